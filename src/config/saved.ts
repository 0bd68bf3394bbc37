// The goal a provision saves with its machine (var/lib/kube-rootfs/goal.json): the goal as
// given (file, env and flags merged, before host facts are filled in). verify loads it under
// its own --config, env and flags, so a bare `verify` checks what the last provision was asked.
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors";
import { resolveInside } from "../fs/inside";
import type { GpuDevice } from "../host/nvidia";
import { stableJSON } from "../stable-json";
import { z } from "../zod";
import type { Goal } from "./schema";

export const SAVED_GOAL = "var/lib/kube-rootfs/goal.json";

/** Options that steer one run rather than describe the machine: never saved. */
const RUN_ONLY = new Set<string>(["logFormat", "offline", "cacheDir", "retries", "concurrency", "timeouts", "maxDownloadBytes"] satisfies Array<keyof Goal>);

/** The GPU device nodes and driver files a provision bound (gpu/record.ts makes it and compares it with the host). */
export interface GpuRecord {
  devices: GpuDevice[];
  /** paths inside the machine of the driver files bound read-only */
  files: string[];
}

/** What a saved record must look like (it is read back from a file anyone may edit). */
const GpuRecordSchema = z.strictObject({
  devices: z.array(z.strictObject({ path: z.string(), major: z.number().check(z.int()), minor: z.number().check(z.int()) })),
  files: z.array(z.string()),
});

/**
 * What the provision found on the host and put into the machine, beside the goal: what verify
 * compares the host with now (a driver upgrade changes the GPU files).
 */
export interface ProvisionResult {
  gpu?: GpuRecord;
}

export function savedGoalText(goal: Goal, result: ProvisionResult = {}): string {
  return stableJSON({ schema: 1, goal: Object.fromEntries(Object.entries(goal).filter(([k]) => !RUN_ONLY.has(k))), result });
}

export interface SavedGoal {
  path: string;
  value: Record<string, unknown>;
  result: ProvisionResult;
}

/** The goal the last provision of the machine at machineDir saved, if there is one. */
export function readSavedGoal(machineDir: string): SavedGoal | undefined {
  const path = resolveInside(machineDir, SAVED_GOAL);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new ConfigError(`${path}: cannot read the saved goal: ${code ?? err}`);
  }
  let value: unknown;
  let result: unknown;
  try {
    ({ goal: value, result } = JSON.parse(text) as { goal?: unknown; result?: unknown });
  } catch {
    // handled below
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`${path}: not a saved goal (expected {"goal": {…}}); run provision again or remove it`);
  }
  return { path, value: value as Record<string, unknown>, result: resultOf(path, result) };
}

/** The saved result, checked; an older provision saved none, and verify then has nothing recorded to compare. */
function resultOf(path: string, result: unknown): ProvisionResult {
  const gpu = (result as { gpu?: unknown } | undefined)?.gpu;
  if (gpu === undefined) return {};
  const parsed = GpuRecordSchema.safeParse(gpu);
  if (!parsed.success) throw new ConfigError(`${path}: result.gpu is not a record of bound GPU nodes and files; run provision again`);
  return { gpu: parsed.data };
}
