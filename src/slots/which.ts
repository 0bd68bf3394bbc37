// Which slot is the node and which is idle: the record says; without one, the one slot that
// exists (a host provisioned before it had updates), or the one that runs when both exist.
import { ConfigError } from "../errors";
import type { SlotRecord } from "./record";

export type Slots = readonly [string, string];

export interface SlotFacts {
  exists(slot: string): boolean;
  running(slot: string): boolean;
}

export const otherSlot = (slots: Slots, slot: string) => (slot === slots[0] ? slots[1] : slots[0]);

export function activeSlot(rec: SlotRecord | undefined, slots: Slots, facts: SlotFacts, recordPath: string): string {
  if (rec) {
    if (!slots.includes(rec.active)) throw new ConfigError(`${recordPath} names ${rec.active} active, which is not one of --slots ${slots.join(",")}`);
    return rec.active;
  }
  const there = slots.filter((s) => facts.exists(s));
  if (there.length === 0) throw new ConfigError(`no slot is provisioned (${slots.join(", ")}): run kube-rootfs provision --machine ${slots[0]} first`);
  if (there.length === 1) return there[0]!;
  const running = slots.filter((s) => facts.running(s));
  if (running.length === 1) return running[0]!;
  throw new ConfigError(`both ${slots.join(" and ")} exist, ${running.length ? "both run" : "neither runs"} and ${recordPath} does not say which is the node; start the one that is (kube-rootfs start --machine NAME) and stop the other`);
}

/** `--slots a,b`: two different machine names. */
export function parseSlots(value: string | undefined): Slots {
  const names = (value ?? "kube1,kube2").split(",").map((s) => s.trim());
  if (names.length !== 2 || !names[0] || !names[1] || names[0] === names[1] || !names.every((n) => /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/.test(n))) {
    throw new ConfigError(`--slots: expected two different machine names, a,b (default kube1,kube2), got ${value}`);
  }
  return [names[0], names[1]];
}
