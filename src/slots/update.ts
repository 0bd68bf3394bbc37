// upgrade and rollback: one per host at a time (the slots lock, and both slots' machine locks,
// so no provision runs beside), an interrupted switch finished or undone first, then the idle
// slot provisioned afresh with the node's identity carried in, then the switch.
import { join } from "node:path";
import type { Resolved } from "../config/resolve";
import { LOCK_DIR, lockFile, lockMachine, type MachineLock } from "../engine/lock";
import { taskLog, type Logger } from "../engine/log";
import { mark } from "../engine/timings";
import { ConfigError, RunError, errorMessage } from "../errors";
import { poweroffTimeoutMs, stopMachine } from "../machine/stop";
import { initFacts, noSystemd } from "../machine/systemd";
import { provisionMachine, provisionPlan } from "../provision";
import { readFileSync } from "node:fs";
import { stableJSON } from "../stable-json";
import { SAVED_GOAL, savedGoalText } from "../config/saved";
import { provisionResult } from "../rootfs/record";
import { CARRIED } from "./carry";
import { clusterAccess, clusterActions, drainFields, kubeletVersionOf, type ClusterAccess } from "./cluster";
import { planDrain } from "../kube/drain";
import { getNode } from "../kube/nodes";
import { machineActions } from "./actions";
import { slotDir, slotFacts, slotGoal } from "./goals";
import { retire, sweepRetired } from "./retire";
import { readRecord, settled, writeRecord, type SlotRecord } from "./record";
import { DrainFailed, recoverSwitch, recoveryFor, switchSlots, type ClusterActions, type SwitchKind } from "./switch";
import { activeSlot, otherSlot, type Slots } from "./which";

export interface UpdateOptions {
  slots: Slots;
  recordPath: string;
  timeoutMs: number;
  dryRun: boolean;
  /** --kubeconfig or KUBE_ROOTFS_KUBECONFIG; else the goal's cluster.kubeconfig */
  kubeconfig?: string;
  /** --no-drain: no cordon, no drain (the Ready gate stays) */
  noDrain: boolean;
  drainTimeoutMs: number;
  logger: Logger;
  signal: AbortSignal;
  /** The update is done (recorded, not a dry run): say so now, before the housekeeping after it. */
  done?(updated: Updated): void;
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

/** The cluster steps' credentials for a switch away from `active` (none: said in one line). */
async function accessFor(kind: SwitchKind, o: UpdateOptions, active: string, kubeconfig: string | undefined): Promise<ClusterAccess> {
  let access = clusterAccess(kubeconfig, slotGoal(active), o.noDrain);
  // A node that has not joined yet is no node of the API server's: nothing to cordon or wait for.
  if (access.client && !(await getNode(access.client, access.node, o.signal))) access = { why: `the API server (${access.client.where}) has no node ${access.node}: it has not joined yet; no cluster steps` };
  const log = taskLog(o.logger, kind);
  if (!access.client) log.info(access.why);
  else if (o.noDrain) log.info(`--no-drain: node ${access.node} is neither cordoned nor drained; the Ready gate stays`, { node: access.node });
  else if (!access.drains) log.warn(`node ${access.node} is not cordoned or drained: no cluster.kubeconfig (--kubeconfig), and the node's own credentials (${access.via}) may only read its Node; they serve the Ready gate`, { node: access.node });
  return access;
}

function stepsOf(kind: SwitchKind, o: UpdateOptions, access: ClusterAccess): ClusterActions | undefined {
  if (!access.client) return undefined;
  return clusterActions(access, { drainTimeoutMs: o.drainTimeoutMs, readyTimeoutMs: o.timeoutMs, signal: o.signal, log: taskLog(o.logger, kind), goalOf: slotGoal });
}

/** Finish or undo a switch a killed run left in the record (the cluster's steps too); the record as it then stands. */
async function recovered(kind: SwitchKind, o: UpdateOptions): Promise<SlotRecord | undefined> {
  const rec = readRecord(o.recordPath);
  if (!rec?.switch) return rec;
  const sw = rec.switch;
  const how = recoveryFor(sw.step);
  const log = taskLog(o.logger, kind);
  log.warn(`an interrupted ${sw.kind} from ${sw.from} to ${sw.to} stopped at ${sw.step}: ${how === "clear" ? "clearing it" : how === "finish" ? "finishing it" : `undoing it (back to ${sw.from})`}`, { switch: sw });
  if (o.dryRun) return { ...rec, switch: null, ...(how === "finish" ? { active: sw.to, previous: sw.from } : {}) };
  // A cordon the interrupted run made is undone; the Ready gate of the undo needs the cluster too.
  const cluster = sw.cluster ? stepsOf(kind, { ...o, noDrain: false }, await accessFor(kind, o, sw.from, o.kubeconfig ?? slotGoal(sw.from).cluster.kubeconfig)) : undefined;
  const a = actionsFor(kind, o);
  const after = await recoverSwitch(a, rec, cluster);
  a.end();
  return after;
}

/** The cluster steps a switch would take now, as one event; read-only requests only. */
async function logClusterPlan(kind: SwitchKind, o: UpdateOptions, access: ClusterAccess, version: string) {
  if (!access.client) return;
  const fields: Record<string, unknown> = { node: access.node, via: access.via };
  const n = await getNode(access.client, access.node, o.signal);
  fields.now = n ? { ready: n.ready, kubeletVersion: n.kubeletVersion, unschedulable: n.unschedulable } : "the API server has no such node";
  if (access.drains) {
    fields.cordon = n?.unschedulable ? "already cordoned (kept after the switch)" : "cordon, uncordon once Ready";
    fields.drain = { timeoutS: o.drainTimeoutMs / 1000, ...drainFields(await planDrain(access.client, access.node, o.signal)) };
  }
  fields.ready = `Ready=True, a heartbeat after the switch begins, kubelet ${version}, within ${o.timeoutMs / 1000}s`;
  o.logger.event({ level: "info", task: kind, msg: "cluster steps", fields });
}

/** The idle slot is what this upgrade would provision: staged by an upgrade that did not switch, with the same goal. */
function stagedFor(rec: SlotRecord | undefined, idle: string, goal: Resolved): boolean {
  if (rec?.staged !== idle) return false;
  // The cluster's credentials are saved with the goal but make no difference to the machine.
  const machineOnly = (text: string) => {
    const saved = JSON.parse(text) as { goal?: Record<string, unknown> };
    delete saved.goal?.cluster;
    return stableJSON(saved);
  };
  try {
    return machineOnly(readFileSync(`${slotDir(idle)}/${SAVED_GOAL}`, "utf8")) === machineOnly(savedGoalText(goal.given, provisionResult(goal)));
  } catch {
    return false;
  }
}

/**
 * status's part of crash safety: an update killed in its cordon or drain never touched the old
 * slot, so undoing the cordon it made (only that) and clearing the switch settles it. Done only
 * when no update runs (the slots lock is free); anything else is left to the next update.
 */
export async function settleInterruptedDrain(o: Pick<UpdateOptions, "slots" | "recordPath" | "kubeconfig" | "logger" | "signal" | "timeoutMs">): Promise<void> {
  const rec = readRecord(o.recordPath);
  const sw = rec?.switch;
  if (!sw?.cluster || (sw.step !== "cordon" && sw.step !== "drain")) return;
  let unlock: () => void;
  try {
    unlock = lockHost(sw.kind, o.slots);
  } catch {
    return; // an update runs: it is not interrupted
  }
  try {
    // Read again under the lock: an update that ran meanwhile settled it itself.
    const cur = readRecord(o.recordPath);
    if (!cur?.switch || cur.switch.at !== sw.at || cur.switch.step !== sw.step) return;
    const opts: UpdateOptions = { ...o, dryRun: false, noDrain: false, drainTimeoutMs: 0 };
    const access = await accessFor(sw.kind, opts, sw.from, o.kubeconfig ?? slotGoal(sw.from).cluster.kubeconfig);
    if (!access.client) return;
    taskLog(o.logger, "status").warn(`an interrupted ${sw.kind} stopped at ${sw.step}, before ${sw.from} was touched: clearing it${sw.cluster.wasUnschedulable ? "" : ` and uncordoning node ${sw.cluster.node}`}`, { switch: sw });
    await recoverSwitch({ ...actionsFor(sw.kind, opts), stepStarted: () => {} }, cur, stepsOf(sw.kind, opts, access));
  } finally {
    unlock();
  }
}

/** The plan, as events: which slot, on what goal, what is carried, the switch's steps. */
function logPlan(o: UpdateOptions, kind: SwitchKind, from: string, to: string, goal: Resolved | undefined, noSwitch: boolean, access?: ClusterAccess, staged = false) {
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
  const drains = access?.client && access.drains;
  const provision = goal && !staged ? ["provision"] : [];
  fields.steps = noSwitch
    ? [...provision, "carry identity"]
    : [...provision, ...(drains ? ["cordon", "drain"] : []), "stop-old", "carry identity", "start-new", "health", ...(access?.client ? ["ready"] : []), ...(drains ? ["uncordon"] : []), "record"];
  if (staged) fields.replaces = null;
  o.logger.event({ level: "info", task: kind, msg: o.dryRun ? "plan" : kind, fields });
}

/** The update is done: said at once, before any housekeeping. */
function finished(o: UpdateOptions, u: Updated): Updated {
  o.done?.(u);
  return u;
}

/** Delete the retired rootfs trees; a failure to is said, not thrown over the run's own outcome. */
function sweep(o: UpdateOptions) {
  const started = performance.now();
  try {
    const removed = sweepRetired(o.slots.map(slotDir));
    mark("deleted");
    if (removed.length) taskLog(o.logger, "upgrade").info("deleted the replaced rootfs", { removed, seconds: Math.round(performance.now() - started) / 1000 });
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
    const staged = stagedFor(rec, idle, goal);
    const access = noSwitch ? undefined : await accessFor("upgrade", o, active, o.kubeconfig ?? goal.cluster.kubeconfig);
    logPlan(o, "upgrade", active, idle, goal, noSwitch, access, staged);
    if (o.dryRun) {
      if (access) await logClusterPlan("upgrade", o, access, kubeletVersionOf(goal));
      return { active, previous: rec?.previous ?? null };
    }

    // The idle slot is about to be replaced: from here on there is nothing to roll back to.
    const base = settled(active, null);
    const log = taskLog(o.logger, "upgrade");
    if (staged) {
      log.info(`${idle} is already provisioned with this goal (an earlier upgrade did not switch): not provisioning it again`, { machine: idle });
    } else {
      await writeRecord(o.recordPath, { ...base, switch: { kind: "upgrade", from: active, to: idle, step: "provision", at: new Date().toISOString() } });
      if (exists(idle)) {
        // Stopped and disabled, as an idle slot must be; its rootfs goes aside until the end.
        if (!noSwitch) await stopMachine(slotGoal(idle), poweroffTimeoutMs(slotGoal(idle)), log);
        log.info(`the idle slot's old rootfs is set aside, deleted once the upgrade is over`, { machine: idle, aside: retire(slotDir(idle)) });
        mark("set aside");
      }
      await provisionMachine(goal, provisionPlan(goal), { signal: o.signal, logger: o.logger, dryRun: false });
    }
    const a = actionsFor("upgrade", o);
    if (noSwitch) {
      await a.carry(active, idle);
      await writeRecord(o.recordPath, { ...base, staged: idle });
      return finished(o, { active, previous: null });
    }
    try {
      const done = await switchSlots(a, base, "upgrade", active, idle, access && stepsOf("upgrade", o, access));
      mark("recorded");
      a.end();
      return finished(o, { active: done.active, previous: done.previous, downtimeMs: a.downtimeMs() });
    } catch (err) {
      // The old slot was never touched: the provisioned idle slot waits for the next upgrade.
      if (err instanceof DrainFailed) await writeRecord(o.recordPath, { ...base, staged: idle });
      throw err;
    } finally {
      a.end();
    }
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
    const access = await accessFor("rollback", o, rec.active, o.kubeconfig ?? slotGoal(rec.active).cluster.kubeconfig);
    logPlan(o, "rollback", rec.active, to, undefined, false, access);
    if (o.dryRun) {
      await logClusterPlan("rollback", o, access, kubeletVersionOf(slotGoal(to)));
      return { active: rec.active, previous: rec.previous };
    }
    const a = actionsFor("rollback", o);
    try {
      const done = await switchSlots(a, rec, "rollback", rec.active, to, stepsOf("rollback", o, access));
      mark("recorded");
      a.end();
      return finished(o, { active: done.active, previous: done.previous, downtimeMs: a.downtimeMs() });
    } finally {
      a.end();
    }
  } finally {
    unlock();
  }
}
