// The goals of the two slots: each machine's own (what its last provision saved), and the one an
// upgrade provisions the idle slot with (the active slot's saved goal under the run's config,
// env and flags, as provision merges them), with the paths that name a machine left out.
import { existsSync } from "node:fs";
import { withLock } from "../bundle/lock";
import { loadGoal, type LoadOptions } from "../config/load";
import { machinePaths, resolveGoal, type Resolved } from "../config/resolve";
import { readSavedGoal, type SavedGoal } from "../config/saved";
import type { Goal } from "../config/schema";
import { ConfigError } from "../errors";
import { nspawnsOn } from "../host/processes";
import type { SlotFacts } from "./which";

/** Fields that name one machine: a slot's goal never takes them from the other slot. */
const MACHINE_FIELDS = new Set<string>(["machine", "machineDir", "nspawnConfigFile", "serviceOverrideFile"] satisfies Array<keyof Goal>);

/** Where a slot's rootfs is: where systemd-nspawn@<slot> boots it from. */
export const slotDir = (slot: string) => machinePaths({ machine: slot } as Goal).machineDir;

/** Whether a slot has a rootfs, and whether a systemd-nspawn runs on it (asked of /proc). */
export const slotFacts: SlotFacts = {
  exists: (slot) => existsSync(slotDir(slot)),
  running: (slot) => nspawnsOn(slotDir(slot)).length > 0,
};

function savedOf(slot: string): SavedGoal | undefined {
  const saved = readSavedGoal(slotDir(slot));
  if (!saved) return undefined;
  return { ...saved, value: Object.fromEntries(Object.entries(saved.value).filter(([k]) => !MACHINE_FIELDS.has(k))) };
}

/** The goal a slot's machine was provisioned with (defaults where it saved none). */
export function slotGoal(slot: string): Resolved {
  return withLock(resolveGoal(loadGoal({ saved: savedOf(slot), flags: { machine: slot } })));
}

/** The goal for `idle`: `active`'s saved goal, then the run's config, env and flags. */
export function nextGoal(active: string, idle: string, run: Omit<LoadOptions, "saved">): Resolved {
  const goal = loadGoal({ ...run, saved: savedOf(active), flags: { ...run.flags, machine: idle } });
  // A --config or KUBE_ROOTFS_* value would aim the slot elsewhere than systemd-nspawn@ boots.
  const named = [...MACHINE_FIELDS].find((f) => f !== "machine" && goal[f as keyof Goal] !== undefined);
  if (named) throw new ConfigError(`${named}: the config or environment sets it, but each slot's paths follow its name (${slotDir(idle)}); leave it out for upgrade`);
  return withLock(resolveGoal(goal));
}
