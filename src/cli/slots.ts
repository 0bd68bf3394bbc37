// What upgrade, rollback and status share: their options, parsed, and the run they log to.
import type { ArgsDef } from "citty";
import { interruptible } from "../engine/interrupt";
import type { Logger } from "../engine/log";
import { ConfigError, Interrupted } from "../errors";
import { DEFAULT_DRAIN_TIMEOUT_S } from "../slots/cluster";
import { DEFAULT_RECORD } from "../slots/record";
import type { UpdateOptions, Updated } from "../slots/update";
import { parseSlots } from "../slots/which";
import { goalArgs, secondsOf, timeoutMs } from "./args";
import { setup } from "./goal";

/** A slot's name and paths come from the slot: a goal flag that names a machine is refused. */
const MACHINE_FLAGS = ["machine", "machine-dir", "nspawn-config-file", "service-override-file"];

export function refuseMachineFlags(command: string, rawArgs: string[]) {
  const named = rawArgs.map((t) => /^--([^=]+)/.exec(t)?.[1]).find((f) => f && MACHINE_FLAGS.includes(f));
  if (named) throw new ConfigError(`--${named}: ${command} works on the slots (--slots a,b); each slot is its own machine`);
}

/** The goal flags of an upgrade: all but those that name a machine. */
export const slotGoalArgs: ArgsDef = Object.fromEntries(Object.entries(goalArgs).filter(([flag]) => !MACHINE_FLAGS.includes(flag)));

/** Only --log-format of the goal's settings: rollback and status take the rest from the slots. */
export const logFormatArg = { "log-format": goalArgs["log-format"]! } as const satisfies ArgsDef;

export const DEFAULT_TIMEOUT_S = 300;

/** The cluster steps' options of upgrade and rollback (upgrade's --kubeconfig is a goal flag). */
export const drainArgs = {
  drain: { type: "boolean", default: true, description: "cordon and drain the node before the old slot stops (needs cluster.kubeconfig); --no-drain skips both, the Ready gate stays" },
  "drain-timeout": { type: "string", description: `seconds the drain may take before the update stops, the old slot untouched (default ${DEFAULT_DRAIN_TIMEOUT_S})`, valueHint: "seconds" },
} as const satisfies ArgsDef;

/** --kubeconfig for the commands that take no other goal flag (rollback, status). */
export const kubeconfigArg = { kubeconfig: goalArgs.kubeconfig! } as const satisfies ArgsDef;

/** --kubeconfig, else KUBE_ROOTFS_KUBECONFIG (the goal's cluster.kubeconfig comes from the slots). */
export const kubeconfigOf = (parsed: Record<string, unknown>): string | undefined => (parsed.kubeconfig as string | undefined) || process.env.KUBE_ROOTFS_KUBECONFIG || undefined;

/**
 * Run an update with the shared options; a signal ends it with one line, as provision's does.
 * Its last word (`updatedEvent`, with `said(updated)` as the message) is said as soon as the
 * update is done: housekeeping that follows (deleting a replaced rootfs) comes after it.
 */
export async function runUpdate(parsed: Record<string, unknown>, rawArgs: string[], defs: ArgsDef, task: "upgrade" | "rollback", said: (u: Updated) => string, work: (o: UpdateOptions) => Promise<Updated>): Promise<void> {
  const { logger } = await setup(parsed, rawArgs, defs);
  const run = interruptible(logger);
  const started = performance.now();
  const options: UpdateOptions = {
    slots: parseSlots(parsed.slots as string | undefined),
    recordPath: (parsed.record as string | undefined) ?? DEFAULT_RECORD,
    timeoutMs: timeoutMs(parsed.timeout, DEFAULT_TIMEOUT_S),
    dryRun: Boolean(parsed["dry-run"]),
    kubeconfig: kubeconfigOf(parsed),
    noDrain: parsed.drain === false,
    drainTimeoutMs: parsed["drain-timeout"] === undefined ? DEFAULT_DRAIN_TIMEOUT_S * 1000 : secondsOf("--drain-timeout", parsed["drain-timeout"]),
    logger: run.logger,
    signal: run.signal,
    done: (u) => updatedEvent(run.logger, task, said(u), u, performance.now() - started),
  };
  try {
    await work(options);
  } catch (err) {
    const stopped = run.interrupted();
    if (stopped) throw new Interrupted(`interrupted by ${stopped.name}; the slot record says where it stopped, and the next upgrade or rollback finishes or undoes it`, stopped.code);
    throw err;
  } finally {
    run.dispose();
  }
}

/** The last word of an update: who is the node now, the node's downtime and the whole run's time. */
function updatedEvent(logger: Logger, task: "upgrade" | "rollback", msg: string, u: Updated, totalMs: number) {
  const fields = { active: u.active, previous: u.previous, ...(u.downtimeMs !== undefined ? { downtimeMs: Math.round(u.downtimeMs) } : {}), totalMs: Math.round(totalMs) };
  logger.event({ level: "info", task, msg, duration: totalMs, fields });
}
