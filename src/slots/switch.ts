// The switch from one slot to the other, as a state machine over four actions (stop, carry,
// start, wait until healthy) and the record. Every step is recorded before it starts; a failure
// falls back to the old slot; an interrupted switch found in the record is finished or undone.
// Two nodes never run at once: a slot starts only after the other one is down.
import { RunError, errorMessage } from "../errors";
import { settled, type SlotRecord, type Step, type Switch } from "./record";

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

/** The switch failed and the node is on the slot it started from (or says why it is not). */
export class SwitchFailed extends RunError {
  override name = "SwitchFailed";
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
async function fallBack(a: SlotActions, rec: SlotRecord, sw: Omit<Switch, "step" | "at">, cause: string, previous: string | null): Promise<SlotRecord> {
  await enter(a, rec, sw, "fall-back");
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
  const back = settled(sw.from, previous);
  await a.write(back);
  return back;
}

/**
 * Switch the node from `from` to `to`. `rec` is the record as it stands (its `previous` is what a
 * fall-back leaves). Returns the new record; throws SwitchFailed once the node is back on `from`.
 */
export async function switchSlots(a: SlotActions, rec: SlotRecord, kind: SwitchKind, from: string, to: string): Promise<SlotRecord> {
  const sw = { kind, from, to };
  try {
    await enter(a, rec, sw, "stop-old");
    await a.stop(from);
    await enter(a, rec, sw, "start-new");
    await a.carry(from, to);
    await a.start(to);
    await enter(a, rec, sw, "health");
    await a.healthy(to);
  } catch (err) {
    // The line names the command, as every other error of an update does.
    const cause = `${kind}: ${errorMessage(err)}`;
    await fallBack(a, rec, sw, cause, rec.previous);
    throw new SwitchFailed(`${cause}; the node is back on ${from}`);
  }
  await enter(a, rec, sw, "record");
  const done = settled(to, from);
  await a.write(done);
  return done;
}

/** What finishing or undoing an interrupted switch does, by the step it reached. */
export type Recovery = "clear" | "finish" | "undo";

export function recoveryFor(step: Step): Recovery {
  if (step === "provision") return "clear"; // the old slot was never touched
  if (step === "record") return "finish"; // the new slot was found healthy
  return "undo";
}

/**
 * Bring a record with an interrupted switch to one running, healthy slot: the one it then
 * names. A record without one is returned as it is.
 */
export async function recoverSwitch(a: SlotActions, rec: SlotRecord): Promise<SlotRecord> {
  const sw = rec.switch;
  if (!sw) return rec;
  const how = recoveryFor(sw.step);
  if (how === "clear") {
    const cleared = settled(rec.active, rec.previous);
    await a.write(cleared);
    return cleared;
  }
  if (how === "finish") {
    const done = settled(sw.to, sw.from);
    await a.write(done);
    return done;
  }
  const cause = `the ${sw.kind} from ${sw.from} to ${sw.to} was interrupted at ${sw.step}`;
  return fallBack(a, rec, sw, cause, rec.previous);
}
