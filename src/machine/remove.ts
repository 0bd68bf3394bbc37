// Remove a machine: stop and disable it, then delete its rootfs, .nspawn file and service
// drop-in, so nothing of it is left; the shared cache stays unless purged.
import { existsSync, lstatSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Resolved } from "../config/resolve";
import type { TaskLog } from "../engine/log";
import { lockMachine } from "../engine/lock";
import { ConfigError, RunError } from "../errors";
import { ioError } from "../fs/atomic";
import { removeTree } from "../fs/tree";
import { leftoverStagingDirs } from "../rootfs/bootstrap/staging";
import { readHostManifest, updateHostManifest, withoutMachine } from "../hostprep/manifest";
import { removalProblems } from "./guard";
import { nspawnsOn } from "../host/processes";
import { stopMachine } from "./stop";
import { initFacts, must, noSystemd, systemd } from "./systemd";

export interface RemoveOptions {
  timeoutMs: number;
  purgeCache: boolean;
  /** --machine-dir was given on the command line (see guard.ts) */
  dirOnCommandLine: boolean;
}

function removeFile(path: string) {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`remove ${path}`, err);
  }
}

/**
 * What of the machine is on the host, in the order remove deletes it: leftover staging dirs, the
 * machine dir, the .nspawn file, the drop-in, and the drop-in's directory when that is all it holds.
 */
export function machineLeftovers(goal: Resolved): string[] {
  const there = (p: string) => lstatSync(p, { throwIfNoEntry: false }) !== undefined;
  const dirs = [...leftoverStagingDirs(goal.machineDir), goal.machineDir].filter(there);
  const files = [goal.nspawnConfigFile, goal.serviceOverrideFile].filter(there);
  const dropins = dirname(goal.serviceOverrideFile);
  const onlyOurs = dropins.endsWith(".service.d") && existsSync(dropins) && readdirSync(dropins).every((n) => join(dropins, n) === goal.serviceOverrideFile);
  return [...dirs, ...files, ...(onlyOurs ? [dropins] : [])];
}

function removeLeftover(goal: Resolved, path: string) {
  if (path === dirname(goal.serviceOverrideFile)) rmdirSync(path);
  else if (path === goal.nspawnConfigFile || path === goal.serviceOverrideFile) removeFile(path);
  else removeTree(path);
}

/** Everything removed, as paths. */
export async function removeMachine(goal: Resolved, opts: RemoveOptions, log: TaskLog): Promise<string[]> {
  const problems = removalProblems({ goal, dirOnCommandLine: opts.dirOnCommandLine, purgeCache: opts.purgeCache });
  if (problems.length) throw new ConfigError(problems[0]!, problems);
  const m = goal.machine;
  const lock = lockMachine(m);
  try {
    // Whoever booted it (by hand, or a systemd that did not stop it), its rootfs is never deleted under it.
    const unused = () => {
      const users = nspawnsOn(goal.machineDir);
      if (users.length) throw new RunError(`remove ${m}: systemd-nspawn (pid ${users.join(", ")}) is running on ${goal.machineDir}; stop it first`);
    };
    const facts = initFacts();
    const hostless = noSystemd("remove", facts) !== undefined;
    if (hostless) {
      unused();
      log.warn("the host has no running systemd: nothing to stop through it, and no systemd-nspawn runs on the machine dir; removing the files", { pid1: facts.pid1 });
      // Offline, systemctl still edits the machines.target.wants link, which is all `disable` does.
      if (Bun.which("systemctl")) await must(systemd.disable(m));
    } else {
      await stopMachine(goal, opts.timeoutMs, log);
      unused();
    }

    const removed = machineLeftovers(goal);
    for (const path of removed) removeLeftover(goal, path);
    // The deleted drop-in must not linger in the running manager.
    if (!hostless) await must(systemd.daemonReload());
    // Gone from the host: reset has nothing of it to find.
    if (readHostManifest(goal.host.root)?.machines.some((e) => e.name === m)) await updateHostManifest(goal.host.root, (h) => withoutMachine(h, m));
    if (opts.purgeCache && existsSync(goal.cacheDir)) {
      removeTree(goal.cacheDir);
      removed.push(goal.cacheDir);
    }
    return removed;
  } finally {
    lock.release();
  }
}
