// The switch from one slot to the other, as a state machine over four actions (stop, carry,
// start, wait until healthy) and the record. Every step is recorded before it starts; a failure
// falls back to the old slot; an interrupted switch found in the record is finished or undone.
// Two nodes never run at once: a slot starts only after the other one is down.
// With cluster credentials the switch is also the cluster's: cordon and drain before the old
// slot stops (a drain that fails stops the switch there, the old slot untouched), Ready at the
// new version before it counts as done, and the node uncordoned when this switch cordoned it.
import { RunError, errorMessage } from "../errors";
import { settled, type SlotRecord, type Step, type Switch, type SwitchCluster } from "./record";

/** What a switch does to machines and the record; the real one drives systemd (see run.ts). */
export interface SlotActions {
  stop(slot: string): Promise<void>;
  /** copy the node's identity from one slot's rootfs into the other's */
  carry(from: string, to: string): Promise<void>;
  start(slot: string): Promise<void>;
  healthy(slot: string): Promise<void>;
  write(record: SlotRecord): Promise<void>;
  /** a step begins (for the log and the downtime measure) */
  stepStarted(step: Step): void;
}

/** What the switch asks of the cluster, for one node; the real one speaks to the API server (see cluster.ts). */
export interface ClusterActions {
  /** the node's name in the cluster */
  node: string;
  /** cordon and drain too (an identity allowed to), or only the Ready gate (the kubelet's own) */
  drains: boolean;
  /** spec.unschedulable now */
  unschedulable(): Promise<boolean>;
  cordon(): Promise<void>;
  drain(): Promise<void>;
  uncordon(): Promise<void>;
  /** Wait until the API server says the node is Ready, heartbeating since `since`, with `slot`'s kubelet version. */
  ready(slot: string, since: Date): Promise<void>;
}

/** The switch failed and the node is on the slot it started from (or says why it is not). */
export class SwitchFailed extends RunError {
  override name = "SwitchFailed";
}

/** The drain failed: the switch stopped before the old slot was touched. */
export class DrainFailed extends RunError {
  override name = "DrainFailed";
}

export type SwitchKind = Switch["kind"];

const now = () => new Date().toISOString();

/** Record `step` of the switch, then let the log know. */
async function enter(a: SlotActions, rec: SlotRecord, sw: Omit<Switch, "step" | "at">, step: Step): Promise<void> {
  await a.write({ ...rec, switch: { ...sw, step, at: now() } });
  a.stepStarted(step);
}

/**
 * Put the node back on `from` after `to` failed: stop `to`, start `from`, wait for it. The
 * record then names `from` active and `previous` as the caller says (a failed upgrade leaves no
 * slot to roll back to; a failed rollback keeps its target).
 */
async function fallBack(a: SlotActions, rec: SlotRecord, sw: Omit<Switch, "step" | "at">, cause: string, previous: string | null, cluster?: ClusterActions): Promise<SlotRecord> {
  await enter(a, rec, sw, "fall-back");
  const since = new Date();
  try {
    await a.stop(sw.to);
  } catch (err) {
    // Starting `from` beside a `to` that may still run could make two nodes: leave it to a person.
    throw new SwitchFailed(`${cause}; stopping ${sw.to} failed too (${errorMessage(err)}), so ${sw.from} was not started again; stop ${sw.to}, then run rollback`);
  }
  try {
    await a.start(sw.from);
    await a.healthy(sw.from);
  } catch (err) {
    throw new SwitchFailed(`${cause}; falling back to ${sw.from} failed too: ${errorMessage(err)}`);
  }
  if (cluster && sw.cluster) {
    // The old node takes pods again once the cluster sees it Ready; an operator's cordon stays.
    try {
      await cluster.ready(sw.from, since);
      if (!sw.cluster.wasUnschedulable) await cluster.uncordon();
    } catch (err) {
      throw new SwitchFailed(`${cause}; ${sw.from} runs again but ${errorMessage(err)}; node ${sw.cluster.node} stays cordoned: uncordon it once it is Ready (kubectl uncordon ${sw.cluster.node})`);
    }
  }
  const back = settled(sw.from, previous);
  await a.write(back);
  return back;
}

/** Cordon and drain; a failed drain uncordons (unless an operator had cordoned) and stops the switch here. */
async function cordonAndDrain(a: SlotActions, rec: SlotRecord, base: Omit<Switch, "step" | "at">, cluster: ClusterActions): Promise<Omit<Switch, "step" | "at">> {
  const sw = { ...base, cluster: { node: cluster.node, wasUnschedulable: await cluster.unschedulable() } satisfies SwitchCluster };
  await enter(a, rec, sw, "cordon");
  if (!sw.cluster.wasUnschedulable) await cluster.cordon();
  await enter(a, rec, sw, "drain");
  try {
    await cluster.drain();
  } catch (err) {
    let undo = "";
    if (!sw.cluster.wasUnschedulable) {
      undo = await cluster.uncordon().then(
        () => `; node ${cluster.node} uncordoned`,
        (e) => `; uncordoning node ${cluster.node} failed too (${errorMessage(e)}): kubectl uncordon ${cluster.node}`,
      );
    }
    await a.write(settled(rec.active, rec.previous));
    throw new DrainFailed(`${sw.kind}: ${errorMessage(err)}; ${sw.from} was not stopped${undo}`);
  }
  return sw;
}

/**
 * Switch the node from `from` to `to`. `rec` is the record as it stands (its `previous` is what a
 * fall-back leaves). Returns the new record; throws SwitchFailed once the node is back on `from`.
 */
export async function switchSlots(a: SlotActions, rec: SlotRecord, kind: SwitchKind, from: string, to: string, cluster?: ClusterActions): Promise<SlotRecord> {
  const sw = cluster?.drains ? await cordonAndDrain(a, rec, { kind, from, to }, cluster) : { kind, from, to };
  try {
    await enter(a, rec, sw, "stop-old");
    const since = new Date();
    await a.stop(from);
    await enter(a, rec, sw, "start-new");
    await a.carry(from, to);
    await a.start(to);
    await enter(a, rec, sw, "health");
    await a.healthy(to);
    if (cluster) {
      await enter(a, rec, sw, "ready");
      await cluster.ready(to, since);
    }
  } catch (err) {
    // The line names the command, as every other error of an update does.
    const cause = `${kind}: ${errorMessage(err)}`;
    await fallBack(a, rec, sw, cause, rec.previous, cluster);
    throw new SwitchFailed(`${cause}; the node is back on ${from}`);
  }
  return finish(a, rec, sw, cluster);
}

/** The new slot is the node: uncordon what this switch cordoned, then record it. */
async function finish(a: SlotActions, rec: SlotRecord, sw: Omit<Switch, "step" | "at">, cluster?: ClusterActions): Promise<SlotRecord> {
  if (cluster && sw.cluster && !sw.cluster.wasUnschedulable) {
    await enter(a, rec, sw, "uncordon");
    await cluster.uncordon();
  }
  await enter(a, rec, sw, "record");
  const done = settled(sw.to, sw.from);
  await a.write(done);
  return done;
}

/** What finishing or undoing an interrupted switch does, by the step it reached. */
export type Recovery = "clear" | "finish" | "undo";

export function recoveryFor(step: Step): Recovery {
  if (step === "provision" || step === "cordon" || step === "drain") return "clear"; // the old slot was never touched
  if (step === "uncordon" || step === "record") return "finish"; // the new slot was found healthy (and Ready)
  return "undo";
}

/**
 * Bring a record with an interrupted switch to one running, healthy slot: the one it then
 * names, and the node uncordoned when the interrupted switch had cordoned it (only then). A
 * record without one is returned as it is. Without `cluster` a cordon is left as it is.
 */
export async function recoverSwitch(a: SlotActions, rec: SlotRecord, cluster?: ClusterActions): Promise<SlotRecord> {
  const sw = rec.switch;
  if (!sw) return rec;
  const how = recoveryFor(sw.step);
  if (how === "clear") {
    if (cluster && sw.cluster && !sw.cluster.wasUnschedulable) await cluster.uncordon();
    const cleared = settled(rec.active, rec.previous);
    await a.write(cleared);
    return cleared;
  }
  if (how === "finish") return finish(a, rec, sw, cluster);
  const cause = `the ${sw.kind} from ${sw.from} to ${sw.to} was interrupted at ${sw.step}`;
  return fallBack(a, rec, sw, cause, rec.previous, cluster);
}
