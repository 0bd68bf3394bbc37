import { describe, expect, test } from "bun:test";
import { jsonLogger } from "../../src/engine/log";
import { parallel, runTask, serial, TaskFailures, type Task } from "../../src/engine/task";

function harness() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = jsonLogger((l) => lines.push(JSON.parse(l)));
  const go = (t: Task, signal = new AbortController().signal) => runTask(t, { signal, logger, dryRun: false });
  return { lines, go };
}

const ok = (name: string, log: string[], outcome: "completed" | "skipped" = "completed"): Task => ({
  name,
  async run() {
    log.push(name);
    return outcome;
  },
});
const fail = (name: string, msg = `${name} broke`): Task => ({
  name,
  async run() {
    throw new Error(msg);
  },
});
/** Waits until aborted, recording that it saw the abort. */
const waiter = (name: string, seen: string[]): Task => ({
  name,
  run: ({ signal }) =>
    new Promise((_, reject) =>
      signal.addEventListener("abort", () => {
        seen.push(name);
        reject(new DOMException("aborted", "AbortError"));
      }),
    ),
});

describe("serial", () => {
  test("runs in order and stops at the first error", async () => {
    const { go } = harness();
    const ran: string[] = [];
    const err = await go(serial("s", [ok("a", ran), fail("b"), ok("c", ran)])).catch((e) => e);
    expect(ran).toEqual(["a"]);
    expect(err).toBeInstanceOf(TaskFailures);
    expect(err.failures.map((f: { task: string }) => f.task)).toEqual(["b"]);
  });

  test("skipped when every child skipped", async () => {
    const { go } = harness();
    expect(await go(serial("s", [ok("a", [], "skipped"), ok("b", [], "skipped")]))).toBe("skipped");
    expect(await go(serial("s", [ok("a", [], "skipped"), ok("b", [])]))).toBe("completed");
  });
});

describe("parallel", () => {
  test("aborts the others through the signal on the first error", async () => {
    const { go, lines } = harness();
    const seen: string[] = [];
    const err = await go(parallel("p", [waiter("w1", seen), fail("boom"), waiter("w2", seen)])).catch((e) => e);
    expect(seen.sort()).toEqual(["w1", "w2"]);
    expect(err.failures.map((f: { task: string }) => f.task)).toEqual(["boom"]);
    expect(lines.filter((l) => l.msg === "cancelled").map((l) => l.task).sort()).toEqual(["w1", "w2"]);
  });

  test("reports every failure, not only the first", async () => {
    const { go } = harness();
    const err = await go(parallel("p", [fail("x"), fail("y"), ok("z", [])])).catch((e) => e);
    expect(err).toBeInstanceOf(TaskFailures);
    expect(err.failures.map((f: { task: string }) => f.task).sort()).toEqual(["x", "y"]);
    expect(err.message).toContain("x: x broke");
    expect(err.message).toContain("y: y broke");
  });

  test("nested failures keep the leaf task names", async () => {
    const { go } = harness();
    const err = await go(serial("all", [parallel("p", [fail("leaf")])])).catch((e) => e);
    expect(err.failures.map((f: { task: string }) => f.task)).toEqual(["leaf"]);
  });

  test("an aborted parent cancels every child", async () => {
    const { go } = harness();
    const seen: string[] = [];
    const controller = new AbortController();
    const running = go(parallel("p", [waiter("a", seen), waiter("b", seen)]), controller.signal).catch((e) => e);
    await Bun.sleep(5);
    controller.abort();
    const err = await running;
    expect(err.name).toBe("AbortError");
    expect(seen.sort()).toEqual(["a", "b"]);
  });
});

describe("task log lines", () => {
  test("started, then completed/skipped/failed with a duration", async () => {
    const { go, lines } = harness();
    await go(ok("a", []));
    await go(ok("b", [], "skipped"));
    await go(fail("c")).catch(() => {});
    const byTask = (t: string) => lines.filter((l) => l.task === t).map((l) => l.msg);
    expect(byTask("a")).toEqual(["started", "completed"]);
    expect(byTask("b")).toEqual(["started", "skipped"]);
    expect(byTask("c")).toEqual(["started", "failed"]);
    const failed = lines.find((l) => l.task === "c" && l.msg === "failed")!;
    expect(failed.level).toBe("error");
    expect(typeof failed.duration).toBe("number");
    expect(failed.fields).toEqual({ error: "c broke" });
    expect(typeof lines[0]!.time).toBe("string");
  });
});
