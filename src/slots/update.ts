// upgrade and rollback: one per host at a time (the slots lock, and both slots' machine locks,
// so no provision runs beside), an interrupted switch finished or undone first, then the idle
// slot provisioned afresh with the node's identity carried in, then the switch.
import { join } from "node:path";
import type { Resolved } from "../config/resolve";
import { LOCK_DIR, lockFile, lockMachine, type MachineLock } from "../engine/lock";
import { taskLog, type Logger } from "../engine/log";
import { ConfigError, RunError, errorMessage } from "../errors";
import { stopMachine } from "../machine/stop";
import { initFacts, noSystemd } from "../machine/systemd";
import { provisionMachine, provisionPlan } from "../provision";
import { CARRIED } from "./carry";
import { STOP_TIMEOUT_MS, machineActions } from "./actions";
import { slotDir, slotFacts, slotGoal } from "./goals";
import { retire, sweepRetired } from "./retire";
import { readRecord, settled, writeRecord, type SlotRecord } from "./record";
import { recoverSwitch, recoveryFor, switchSlots, type SwitchKind } from "./switch";
import { activeSlot, otherSlot, type Slots } from "./which";

export interface UpdateOptions {
  slots: Slots;
  recordPath: string;
  timeoutMs: number;
  dryRun: boolean;
  logger: Logger;
  signal: AbortSignal;
}

export interface Updated {
  active: string;
  previous: string | null;
  /** the node's downtime, when a switch happened */
  downtimeMs?: number;
}

export const SLOTS_LOCK = join(LOCK_DIR, "slots.lock");

const exists = slotFacts.exists;

/** The slots lock and both machines' locks, or the one line naming who holds one. */
function lockHost(kind: SwitchKind, slots: Slots): () => void {
  const held: MachineLock[] = [lockFile(SLOTS_LOCK, (pid) => `${kind}: another upgrade or rollback (pid ${pid}) is running (lock ${SLOTS_LOCK})`)];
  try {
    for (const s of slots) held.push(lockMachine(s));
  } catch (err) {
    held.forEach((l) => l.release());
    throw new RunError(`${kind}: ${(err as Error).message}`);
  }
  return () => held.reverse().forEach((l) => l.release());
}

/** A switch needs the host's systemd: say so before anything changes. */
function needSystemd(kind: SwitchKind) {
  const why = noSystemd(kind, initFacts());
  if (why) throw new RunError(why.replace(/;.*$/, `; ${kind === "upgrade" ? "upgrade --no-switch prepares the idle slot without switching" : "a switch cannot run here"}`));
}

function actionsFor(kind: SwitchKind, o: UpdateOptions) {
  return machineActions({ recordPath: o.recordPath, timeoutMs: o.timeoutMs, logger: o.logger, task: kind, goalOf: slotGoal });
}

/** Finish or undo a switch a killed run left in the record; the record as it then stands. */
async function recovered(kind: SwitchKind, o: UpdateOptions): Promise<SlotRecord | undefined> {
  const rec = readRecord(o.recordPath);
  if (!rec?.switch) return rec;
  const sw = rec.switch;
  const how = recoveryFor(sw.step);
  const log = taskLog(o.logger, kind);
  log.warn(`an interrupted ${sw.kind} from ${sw.from} to ${sw.to} stopped at ${sw.step}: ${how === "clear" ? "clearing it" : how === "finish" ? "finishing it" : `undoing it (back to ${sw.from})`}`, { switch: sw });
  if (o.dryRun) return { ...rec, switch: null, ...(how === "finish" ? { active: sw.to, previous: sw.from } : {}) };
  const a = actionsFor(kind, o);
  const after = await recoverSwitch(a, rec);
  a.end();
  return after;
}

/** The plan, as events: which slot, on what goal, what is carried, the switch's steps. */
function logPlan(o: UpdateOptions, kind: SwitchKind, from: string, to: string, goal: Resolved | undefined, noSwitch: boolean) {
  const fields: Record<string, unknown> = { from, to, record: o.recordPath, carried: CARRIED.map((c) => c.path) };
  if (goal) {
    const plan = provisionPlan(goal);
    Object.assign(fields, {
      machineDir: goal.machineDir,
      replaces: exists(to) ? `${slotDir(to)} (set aside, deleted after the upgrade; the slot is provisioned afresh)` : null,
      versions: goal.versions,
      bootstrap: goal.bootstrap.method,
      phases: plan.phases.map((p) => `${p.name}: ${p.tasks.map((t) => t.name).join(", ")}`),
      downloads: plan.artifacts.map((a) => a.url),
    });
  }
  fields.steps = noSwitch ? ["provision", "carry identity"] : [...(goal ? ["provision"] : []), "stop-old", "carry identity", "start-new", "health", "record"];
  o.logger.event({ level: "info", task: kind, msg: o.dryRun ? "plan" : kind, fields });
}

/** Delete the retired rootfs trees; a failure to is said, not thrown over the run's own outcome. */
function sweep(o: UpdateOptions) {
  try {
    const removed = sweepRetired(o.slots.map(slotDir));
    if (removed.length) taskLog(o.logger, "upgrade").info("deleted the replaced rootfs", { removed });
  } catch (err) {
    taskLog(o.logger, "upgrade").warn(`could not delete a replaced rootfs: ${errorMessage(err)}; the next upgrade tries again`);
  }
}

/**
 * Provision the idle slot with `nextGoal(active, idle)` and, unless `noSwitch`, switch the node
 * to it. Without --no-switch the host's systemd is required, and checked first.
 */
export async function upgrade(o: UpdateOptions, nextGoal: (active: string, idle: string) => Resolved, noSwitch: boolean): Promise<Updated> {
  if (!noSwitch) needSystemd("upgrade");
  const unlock = o.dryRun ? () => {} : lockHost("upgrade", o.slots);
  try {
    const rec = await recovered("upgrade", o);
    const active = activeSlot(rec, o.slots, slotFacts, o.recordPath);
    const idle = otherSlot(o.slots, active);
    const goal = nextGoal(active, idle);
    logPlan(o, "upgrade", active, idle, goal, noSwitch);
    if (o.dryRun) return { active, previous: rec?.previous ?? null };

    // The idle slot is about to be replaced: from here on there is nothing to roll back to.
    const base = settled(active, null);
    await writeRecord(o.recordPath, { ...base, switch: { kind: "upgrade", from: active, to: idle, step: "provision", at: new Date().toISOString() } });
    const log = taskLog(o.logger, "upgrade");
    if (exists(idle)) {
      // Stopped and disabled, as an idle slot must be; its rootfs goes aside until the end.
      if (!noSwitch) await stopMachine(slotGoal(idle), STOP_TIMEOUT_MS, log);
      log.info(`the idle slot's old rootfs is set aside, deleted once the upgrade is over`, { machine: idle, aside: retire(slotDir(idle)) });
    }
    await provisionMachine(goal, provisionPlan(goal), { signal: o.signal, logger: o.logger, dryRun: false });
    const a = actionsFor("upgrade", o);
    if (noSwitch) {
      await a.carry(active, idle);
      await writeRecord(o.recordPath, base);
      return { active, previous: null };
    }
    const done = await switchSlots(a, base, "upgrade", active, idle);
    a.end();
    return { active: done.active, previous: done.previous, downtimeMs: a.downtimeMs() };
  } finally {
    if (!o.dryRun) sweep(o);
    unlock();
  }
}

/** Switch the node back to the record's previous slot, untouched since it was the node. */
export async function rollback(o: UpdateOptions): Promise<Updated> {
  needSystemd("rollback");
  const unlock = o.dryRun ? () => {} : lockHost("rollback", o.slots);
  try {
    const rec = await recovered("rollback", o);
    if (!rec) throw new ConfigError(`rollback: there is no slot record (${o.recordPath}): nothing was upgraded on this host`);
    const to = rec.previous;
    if (!to) throw new ConfigError(`rollback: ${o.recordPath} names no previous slot to go back to (a failed or staged upgrade replaced it)`);
    if (!exists(to)) throw new ConfigError(`rollback: the previous slot ${to} has no rootfs at ${slotDir(to)}`);
    logPlan(o, "rollback", rec.active, to, undefined, false);
    if (o.dryRun) return { active: rec.active, previous: rec.previous };
    const a = actionsFor("rollback", o);
    const done = await switchSlots(a, rec, "rollback", rec.active, to);
    a.end();
    return { active: done.active, previous: done.previous, downtimeMs: a.downtimeMs() };
  } finally {
    unlock();
  }
}
