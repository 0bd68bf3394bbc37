// The switch state machine: every step, each action failing at it, and every interrupted step
// recovered; the actions are recorded against a model host where a started slot runs.
import { describe, expect, test } from "bun:test";
import { settled, STEPS, type SlotRecord, type Step } from "../../src/slots/record";
import { DrainFailed, recoverSwitch, recoveryFor, switchSlots, SwitchFailed, type ClusterActions, type SlotActions } from "../../src/slots/switch";

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
      ["provision", "clear"], ["cordon", "clear"], ["drain", "clear"], ["stop-old", "undo"], ["start-new", "undo"], ["health", "undo"],
      ["ready", "undo"], ["uncordon", "finish"], ["record", "finish"], ["fall-back", "undo"],
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

type ClusterAction = "cordon" | "drain" | "uncordon" | "ready";

/**
 * The cluster beside the model host: the node's spec.unschedulable, and Ready only for a slot
 * that runs (the API server hears from the running kubelet alone). Its calls join the host's
 * in one list, so the order of cordon, stop, start and uncordon is asserted as it happened.
 */
function cluster(h: ReturnType<typeof host>, opts: { unschedulable?: boolean; drains?: boolean; fail?: { action: ClusterAction; slot?: string } } = {}) {
  const state = { unschedulable: opts.unschedulable ?? false };
  const act = (action: ClusterAction, slot?: string) => {
    h.calls.push(slot ? `${action} ${slot}` : action);
    if (opts.fail && opts.fail.action === action && (opts.fail.slot === undefined || opts.fail.slot === slot)) throw new Error(`${action}${slot ? ` ${slot}` : ""} broke`);
  };
  const c: ClusterActions = {
    node: "node1",
    drains: opts.drains ?? true,
    unschedulable: async () => state.unschedulable,
    async cordon() {
      act("cordon");
      state.unschedulable = true;
    },
    async drain() {
      act("drain");
      expect(state.unschedulable).toBe(true); // nothing is scheduled back while pods leave
    },
    async uncordon() {
      act("uncordon");
      state.unschedulable = false;
    },
    async ready(slot, since) {
      act("ready", slot);
      expect(since).toBeInstanceOf(Date);
      if (!h.up.has(slot)) throw new Error(`node1 is NotReady (${slot} is not running)`);
    },
  };
  return { c, state };
}

describe("a switch with the cluster's steps", () => {
  test("cordon and drain before the old slot stops; Ready at the new slot, then uncordon, then the record", async () => {
    const h = host(["kube1"]);
    const { c, state } = cluster(h);
    const done = await switchSlots(h.a, base, "upgrade", "kube1", "kube2", c);
    expect(done).toEqual(settled("kube2", "kube1"));
    expect(h.calls).toEqual(["cordon", "drain", "stop kube1", "carry kube2", "start kube2", "healthy kube2", "ready kube2", "uncordon"]);
    expect(h.records.map((r) => r.switch?.step ?? "settled")).toEqual(["cordon", "drain", "stop-old", "start-new", "health", "ready", "uncordon", "record", "settled"]);
    // From the cordon on, the record says what to undo: the node was schedulable.
    expect(h.records[0]!.switch?.cluster).toEqual({ node: "node1", wasUnschedulable: false });
    expect(state.unschedulable).toBe(false);
  });

  test("a node its operator cordoned stays cordoned: no cordon, no uncordon", async () => {
    const h = host(["kube1"]);
    const { c, state } = cluster(h, { unschedulable: true });
    await switchSlots(h.a, base, "upgrade", "kube1", "kube2", c);
    expect(h.calls).toEqual(["drain", "stop kube1", "carry kube2", "start kube2", "healthy kube2", "ready kube2"]);
    expect(h.records[0]!.switch?.cluster).toEqual({ node: "node1", wasUnschedulable: true });
    expect(state.unschedulable).toBe(true);
  });

  test("with the kubelet's own credentials only the Ready gate runs", async () => {
    const h = host(["kube1"]);
    const { c } = cluster(h, { drains: false });
    await switchSlots(h.a, base, "upgrade", "kube1", "kube2", c);
    expect(h.calls).toEqual(["stop kube1", "carry kube2", "start kube2", "healthy kube2", "ready kube2"]);
    expect(h.records.every((r) => r.switch?.cluster === undefined)).toBe(true);
  });

  test("a drain that fails stops the switch before the old slot is touched, and uncordons", async () => {
    const h = host(["kube1"]);
    const { c, state } = cluster(h, { fail: { action: "drain" } });
    const err = await switchSlots(h.a, base, "upgrade", "kube1", "kube2", c).catch((e) => e);
    expect(err).toBeInstanceOf(DrainFailed);
    expect(err.message).toBe("upgrade: drain broke; kube1 was not stopped; node node1 uncordoned");
    expect(h.calls).toEqual(["cordon", "drain", "uncordon"]);
    expect([...h.up]).toEqual(["kube1"]);
    expect(state.unschedulable).toBe(false);
    expect(h.records.at(-1)).toEqual(base);
  });

  test("a drain that fails on a node its operator cordoned leaves it cordoned", async () => {
    const h = host(["kube1"]);
    const { c, state } = cluster(h, { unschedulable: true, fail: { action: "drain" } });
    const err = await switchSlots(h.a, base, "upgrade", "kube1", "kube2", c).catch((e) => e);
    expect(err.message).toBe("upgrade: drain broke; kube1 was not stopped");
    expect(state.unschedulable).toBe(true);
  });

  test("a cordon that fails stops the switch before anything else", async () => {
    const h = host(["kube1"]);
    const { c } = cluster(h, { fail: { action: "cordon" } });
    await expect(switchSlots(h.a, base, "upgrade", "kube1", "kube2", c)).rejects.toThrow("cordon broke");
    expect(h.calls).toEqual(["cordon"]);
    expect([...h.up]).toEqual(["kube1"]);
  });

  test("not Ready at the new slot: fall back, wait until the old node is Ready, then uncordon", async () => {
    const h = host(["kube1"]);
    const { c, state } = cluster(h, { fail: { action: "ready", slot: "kube2" } });
    const err = await switchSlots(h.a, base, "upgrade", "kube1", "kube2", c).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchFailed);
    expect(err.message).toBe("upgrade: ready kube2 broke; the node is back on kube1");
    expect(h.calls.slice(-6)).toEqual(["ready kube2", "stop kube2", "start kube1", "healthy kube1", "ready kube1", "uncordon"]);
    expect(state.unschedulable).toBe(false);
    expect(h.records.at(-1)).toEqual(settled("kube1", null));
  });

  test("the old node not Ready after the fall-back: it stays cordoned, and the line says so", async () => {
    const h = host(["kube1"]);
    const { c, state } = cluster(h, { fail: { action: "ready" } });
    const err = await switchSlots(h.a, base, "upgrade", "kube1", "kube2", c).catch((e) => e);
    expect(err.message).toBe("upgrade: ready kube2 broke; kube1 runs again but ready kube1 broke; node node1 stays cordoned: uncordon it once it is Ready (kubectl uncordon node1)");
    expect(state.unschedulable).toBe(true);
  });

  for (const action of ["stop", "carry", "start", "healthy"] as const) {
    test(`${action} failing after the drain: fall back, then uncordon once the old node is Ready`, async () => {
      const h = host(["kube1"], { action, slot: action === "stop" ? "kube1" : "kube2" });
      const { c, state } = cluster(h);
      await expect(switchSlots(h.a, base, "upgrade", "kube1", "kube2", c)).rejects.toThrow("the node is back on kube1");
      expect(h.calls.slice(-2)).toEqual(["ready kube1", "uncordon"]);
      expect(state.unschedulable).toBe(false);
    });
  }
});

describe("an interrupted switch with the cluster's steps is settled in the cluster too", () => {
  const interrupted = (step: Step, running: string[], wasUnschedulable = false) => {
    const rec: SlotRecord = { ...settled("kube1", null), switch: { kind: "upgrade", from: "kube1", to: "kube2", step, at: "2026-12-03T00:00:00.000Z", cluster: { node: "node1", wasUnschedulable } } };
    const h = host(running);
    return { rec, h, ...cluster(h, { unschedulable: true }) };
  };

  for (const step of ["cordon", "drain"] as const) {
    test(`killed at ${step}: the old slot was never touched; the node is uncordoned`, async () => {
      const { rec, h, c, state } = interrupted(step, ["kube1"]);
      expect(await recoverSwitch(h.a, rec, c)).toEqual(settled("kube1", null));
      expect(h.calls).toEqual(["uncordon"]);
      expect(state.unschedulable).toBe(false);
    });
  }

  test("killed mid-drain on a node its operator had cordoned: it stays cordoned", async () => {
    const { rec, h, c, state } = interrupted("drain", ["kube1"], true);
    await recoverSwitch(h.a, rec, c);
    expect(h.calls).toEqual([]);
    expect(state.unschedulable).toBe(true);
  });

  test("killed at the Ready gate: back on kube1, uncordoned once it is Ready", async () => {
    const { rec, h, c, state } = interrupted("ready", ["kube2"]);
    expect(await recoverSwitch(h.a, rec, c)).toEqual(settled("kube1", null));
    expect(h.calls).toEqual(["stop kube2", "start kube1", "healthy kube1", "ready kube1", "uncordon"]);
    expect(state.unschedulable).toBe(false);
  });

  test("killed before the uncordon: the switch is finished, the node uncordoned", async () => {
    const { rec, h, c, state } = interrupted("uncordon", ["kube2"]);
    expect(await recoverSwitch(h.a, rec, c)).toEqual(settled("kube2", "kube1"));
    expect(h.calls).toEqual(["uncordon"]);
    expect(state.unschedulable).toBe(false);
  });
});
