// The switch state machine: every step, each action failing at it, and every interrupted step
// recovered; the actions are recorded against a model host where a started slot runs.
import { describe, expect, test } from "bun:test";
import { settled, STEPS, type SlotRecord, type Step } from "../../src/slots/record";
import { recoverSwitch, recoveryFor, switchSlots, SwitchFailed, type SlotActions } from "../../src/slots/switch";

type Action = "stop" | "carry" | "start" | "healthy";

/** A host of two slots: which run, what was done, and the record as each write left it. */
function host(running: string[], fail?: { action: Action; slot: string }) {
  const up = new Set(running);
  const calls: string[] = [];
  const records: SlotRecord[] = [];
  const steps: Step[] = [];
  const act = (action: Action, slot: string) => {
    calls.push(`${action} ${slot}`);
    if (fail && fail.action === action && fail.slot === slot) throw new Error(`${action} ${slot} broke`);
  };
  const a: SlotActions = {
    async stop(s) {
      act("stop", s);
      up.delete(s);
    },
    async carry(from, to) {
      act("carry", to);
      expect(up.has(from)).toBe(false); // the identity is final only once its node is down
    },
    async start(s) {
      act("start", s);
      expect([...up].filter((x) => x !== s)).toEqual([]); // never two nodes
      up.add(s);
    },
    async healthy(s) {
      act("healthy", s);
    },
    async write(r) {
      records.push(structuredClone(r));
    },
    stepStarted: (s) => void steps.push(s),
  };
  return { a, up, calls, records, steps };
}

const base = settled("kube1", null);

describe("a switch that works", () => {
  test("records each step before it runs, then the new slot active and the old one previous", async () => {
    const h = host(["kube1"]);
    const done = await switchSlots(h.a, base, "upgrade", "kube1", "kube2");
    expect(done).toEqual(settled("kube2", "kube1"));
    expect(h.calls).toEqual(["stop kube1", "carry kube2", "start kube2", "healthy kube2"]);
    expect(h.records.map((r) => r.switch?.step ?? "settled")).toEqual(["stop-old", "start-new", "health", "record", "settled"]);
    expect(h.records.at(-1)).toEqual(done);
    expect(h.steps).toEqual(["stop-old", "start-new", "health", "record"]);
    expect([...h.up]).toEqual(["kube2"]);
  });
});

describe("a switch where one action fails falls back to the old slot", () => {
  const failures: Array<{ action: Action; slot: string; step: Step }> = [
    { action: "stop", slot: "kube1", step: "stop-old" },
    { action: "carry", slot: "kube2", step: "start-new" },
    { action: "start", slot: "kube2", step: "start-new" },
    { action: "healthy", slot: "kube2", step: "health" },
  ];
  for (const f of failures) {
    test(`${f.action} ${f.slot} (step ${f.step})`, async () => {
      const h = host(["kube1"], f);
      const err = await switchSlots(h.a, settled("kube1", "kube2"), "rollback", "kube1", "kube2").catch((e) => e);
      expect(err).toBeInstanceOf(SwitchFailed);
      expect(err.message).toBe(`rollback: ${f.action} ${f.slot} broke; the node is back on kube1`);
      // After the failure: the new slot stopped, then the old one started and waited for.
      expect(h.calls.slice(-3)).toEqual(["stop kube2", "start kube1", "healthy kube1"]);
      expect([...h.up]).toEqual(["kube1"]);
      expect(h.records.at(-2)?.switch?.step).toBe("fall-back");
      // A failed rollback keeps the slot it tried, untouched, as the one to go back to.
      expect(h.records.at(-1)).toEqual(settled("kube1", "kube2"));
      expect(h.records.slice(0, -2).map((r) => r.switch?.step).at(-1)).toBe(f.step);
    });
  }

  test("a failed upgrade leaves no previous slot: the idle one was replaced", async () => {
    const h = host(["kube1"], { action: "healthy", slot: "kube2" });
    await expect(switchSlots(h.a, base, "upgrade", "kube1", "kube2")).rejects.toThrow("the node is back on kube1");
    expect(h.records.at(-1)).toEqual(settled("kube1", null));
  });

  test("the fall-back's own failure is named too", async () => {
    const h = host(["kube1"], { action: "healthy", slot: "kube2" });
    const breakOld = { ...h.a, healthy: async (s: string) => { if (s === "kube2") throw new Error("kubelet.service failed"); throw new Error("containerd failed"); } };
    await expect(switchSlots(breakOld, base, "upgrade", "kube1", "kube2")).rejects.toThrow("upgrade: kubelet.service failed; falling back to kube1 failed too: containerd failed");
  });

  test("when the new slot cannot be stopped, the old one is not started beside it", async () => {
    const h = host(["kube1"]);
    const stuck = { ...h.a, healthy: async () => { throw new Error("not healthy"); }, stop: async (s: string) => { if (s === "kube2") throw new Error("still running after SIGKILL"); h.up.delete(s); } };
    await expect(switchSlots(stuck, base, "upgrade", "kube1", "kube2")).rejects.toThrow(
      "upgrade: not healthy; stopping kube2 failed too (still running after SIGKILL), so kube1 was not started again; stop kube2, then run rollback",
    );
    expect([...h.up]).toEqual(["kube2"]);
  });
});

describe("an interrupted switch is finished or undone", () => {
  const interrupted = (step: Step, running: string[]) => {
    const rec: SlotRecord = { ...settled("kube1", null), switch: { kind: "upgrade", from: "kube1", to: "kube2", step, at: "2026-12-03T00:00:00.000Z" } };
    return { rec, h: host(running) };
  };

  test("every step has a way back", () => {
    expect(STEPS.map((s) => [s, recoveryFor(s)])).toEqual([
      ["provision", "clear"], ["stop-old", "undo"], ["start-new", "undo"], ["health", "undo"], ["record", "finish"], ["fall-back", "undo"],
    ]);
  });

  test("killed while the idle slot was provisioned: the old slot was never touched, the switch is dropped", async () => {
    const { rec, h } = interrupted("provision", ["kube1"]);
    expect(await recoverSwitch(h.a, rec)).toEqual(settled("kube1", null));
    expect(h.calls).toEqual([]);
  });

  // What runs when the kill came: before the old slot's stop, after it, after the new one's start.
  const undone: Array<[Step, string[]]> = [["stop-old", ["kube1"]], ["stop-old", []], ["start-new", []], ["start-new", ["kube2"]], ["health", ["kube2"]], ["fall-back", []]];
  for (const [step, running] of undone) {
    test(`killed at ${step} with ${running.join(", ") || "nothing"} running: back on kube1`, async () => {
      const { rec, h } = interrupted(step, running);
      expect(await recoverSwitch(h.a, rec)).toEqual(settled("kube1", null));
      expect(h.calls).toEqual(["stop kube2", "start kube1", "healthy kube1"]);
      expect([...h.up]).toEqual(["kube1"]);
    });
  }

  test("killed after the new slot was found healthy: the switch is finished", async () => {
    const { rec, h } = interrupted("record", ["kube2"]);
    expect(await recoverSwitch(h.a, rec)).toEqual(settled("kube2", "kube1"));
    expect(h.calls).toEqual([]);
  });

  test("a record without a switch is left alone", async () => {
    const h = host(["kube1"]);
    expect(await recoverSwitch(h.a, base)).toBe(base);
    expect(h.records).toEqual([]);
  });
});
