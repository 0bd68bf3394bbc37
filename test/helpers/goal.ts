// A resolved goal state for library-level tests: fixed host facts, temp dirs, no detection.
import { join } from "node:path";
import type { HostFacts } from "../../src/host/facts";
import { resolveGoal, type Resolved } from "../../src/config/resolve";
import { GoalSchema, type GoalInput } from "../../src/config/schema";
import { jsonLogger, type LogEvent, type Logger } from "../../src/engine/log";
import { ConfigError } from "../../src/errors";
import { runTask, type Task } from "../../src/engine/task";
import { defaultHostRoot } from "./fake-host";
import { tempDir } from "./tmp";

export const FACTS: HostFacts = {
  arch: "amd64", hostname: "node1", kernel: "6.1.0-test", modules: false, devices: [],
  resolvConf: "/etc/resolv.conf",
};

export { tempDir } from "./tmp";

/** A goal with its own machine dir and cache dir unless given; no GPUs unless asked (the test host's own are none of its business). */
export function testGoal(input: GoalInput = {}): Resolved {
  const base: GoalInput = { machineDir: join(tempDir("root"), "rootfs"), cacheDir: tempDir("cache"), bootstrap: { method: "none" }, gpu: { mode: "none" }, host: { root: defaultHostRoot() } };
  // A host section of the test's own keeps the fake host root unless it names another.
  return resolveGoal(GoalSchema.parse({ ...base, ...input, host: { ...base.host, ...input.host } }), () => FACTS);
}

/** Run a task with a JSON logger that records events; resolves to the outcome and the events. */
export async function runLogged(task: Task, opts: { dryRun?: boolean; signal?: AbortSignal } = {}) {
  const events: LogEvent[] = [];
  const logger: Logger = { ...jsonLogger(() => {}), event: (e) => void events.push(e) };
  const outcome = await runTask(task, { signal: opts.signal ?? new AbortController().signal, logger, dryRun: opts.dryRun ?? false });
  return { outcome, events };
}

/** The ConfigError `fn` throws (any other error, or none, fails the test). */
export const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
};
