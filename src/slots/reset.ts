// reset: undo what kube-rootfs did to the host. Every machine it made (the host manifest lists
// each one provision made; the slot record names the slots) is stopped and removed with its
// .nspawn file and drop-in, the host files of the manifest are removed, the fstab's swap lines
// put back, the slot record and the manifest removed, and with --cache the cache dir. The kernel
// values already applied stay until the next boot: nothing records what they were before.
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { machinePaths, type Resolved } from "../config/resolve";
import type { TaskLog } from "../engine/log";
import { ConfigError } from "../errors";
import { removeQuietly, writeFileAtomic } from "../fs/atomic";
import { removeTree } from "../fs/tree";
import { HOST_MANIFEST, manifestPath, readHostManifest, removeHostManifest, type HostManifest } from "../hostprep/manifest";
import { uncommentSwapLines } from "../hostprep/swap";
import { systemDirProblem } from "../machine/guard";
import { machineLeftovers, removeMachine } from "../machine/remove";
import { readRecord, type SlotRecord } from "./record";
import { retiredBeside } from "./retire";

export interface ResetOptions {
  /** also the cache dir (downloads and rootfs snapshots) */
  cache: boolean;
  dryRun: boolean;
  /** the slot record (default /var/lib/kube-rootfs/slots.json under host.root) */
  recordPath: string;
  /** how long a running machine gets to power off */
  timeoutMs: number;
}

/** One thing reset removed (or restored, or would): what it is, and where. */
export interface ResetStep {
  what: string;
  path: string;
  /** restored rather than removed (the fstab) */
  restored?: boolean;
}

/** The slot record, or undefined; one that cannot be read is removed all the same. */
function slotRecord(path: string): SlotRecord | undefined {
  try {
    return readRecord(path);
  } catch (err) {
    if (err instanceof ConfigError) return undefined;
    throw err;
  }
}

/** Every machine kube-rootfs made here: those provision recorded, and the slots the record names at their default paths. */
export function machinesToReset(goal: Resolved, manifest: HostManifest | undefined, record: SlotRecord | undefined): Resolved[] {
  const recorded = manifest?.machines ?? [];
  const slots = record ? [record.active, record.previous, record.switch?.from, record.switch?.to] : [];
  const named = [...new Set(slots.filter((s): s is string => Boolean(s)))].filter((name) => !recorded.some((m) => m.name === name));
  const bySlot = named.map((name) => ({ name, ...machinePaths({ ...goal, machine: name, machineDir: undefined, nspawnConfigFile: undefined, serviceOverrideFile: undefined }) }));
  return [...recorded, ...bySlot].map((m) => ({ ...goal, machine: m.name, machineDir: m.machineDir, nspawnConfigFile: m.nspawnConfigFile, serviceOverrideFile: m.serviceOverrideFile }));
}

/** The fstab with the swap lines put back, when it differs from the one on the host. */
function restoredFstab(root: string, manifest: HostManifest | undefined): { path: string; text: string; backup: string } | undefined {
  if (!manifest?.fstab) return undefined;
  const path = join(root, manifest.fstab.path);
  if (!existsSync(path)) return undefined;
  const now = readFileSync(path, "utf8");
  const text = uncommentSwapLines(now, manifest.fstab.lines);
  return { path, text, backup: join(root, manifest.fstab.backup) };
}

export async function resetHost(goal: Resolved, opts: ResetOptions, log: TaskLog): Promise<ResetStep[]> {
  const root = goal.host.root;
  const manifest = readHostManifest(root);
  const record = slotRecord(opts.recordPath);
  const steps: ResetStep[] = [];
  const done = (step: ResetStep) => {
    steps.push(step);
    log.info(opts.dryRun ? (step.restored ? "would restore" : "would remove") : step.restored ? "restored" : "removed", { what: step.what, path: step.path });
  };

  for (const machine of machinesToReset(goal, manifest, record)) {
    const what = `machine ${machine.machine}`;
    const retired = retiredBeside([machine.machineDir]);
    if (opts.dryRun) {
      [...machineLeftovers(machine), ...retired].forEach((path) => done({ what, path }));
      continue;
    }
    // Recorded by provision: where it was told to put the machine, so the name rule is not needed (see guard.ts).
    const removed = await removeMachine(machine, { timeoutMs: opts.timeoutMs, purgeCache: false, dirOnCommandLine: true }, log);
    retired.forEach(removeTree);
    [...removed, ...retired].forEach((path) => done({ what, path }));
  }

  for (const f of manifest?.files ?? []) {
    const path = join(root, f.path);
    if (!existsSync(path)) continue;
    if (!opts.dryRun) removeQuietly(path);
    done({ what: f.what, path });
  }

  const fstab = restoredFstab(root, manifest);
  if (fstab && fstab.text !== readFileSync(fstab.path, "utf8")) {
    if (!opts.dryRun) await writeFileAtomic(fstab.path, fstab.text, statSync(fstab.path).mode & 0o7777);
    done({ what: "fstab: the swap lines host.swap off commented out", path: fstab.path, restored: true });
  }
  if (fstab && existsSync(fstab.backup)) {
    if (!opts.dryRun) removeQuietly(fstab.backup);
    done({ what: "fstab's copy from before host.swap off", path: fstab.backup });
  }

  if (existsSync(opts.recordPath)) {
    if (!opts.dryRun) removeQuietly(opts.recordPath);
    done({ what: "slot record", path: opts.recordPath });
  }

  if (opts.cache && existsSync(goal.cacheDir)) {
    const bad = systemDirProblem(goal.cacheDir);
    if (bad) throw new ConfigError(`reset --cache: cache dir ${goal.cacheDir} ${bad}; refusing to remove it`);
    if (!opts.dryRun) removeTree(goal.cacheDir);
    done({ what: "cache", path: goal.cacheDir });
  }

  if (manifest) {
    if (!opts.dryRun) await removeHostManifest(root);
    done({ what: "host manifest", path: manifestPath(root) });
  }
  // kube-rootfs's own directory, once nothing is left in it.
  const own = join(root, dirname(HOST_MANIFEST));
  if (!opts.dryRun && existsSync(own) && readdirSync(own).length === 0) {
    rmdirSync(own);
    done({ what: "kube-rootfs's state dir", path: own });
  }
  return steps;
}
