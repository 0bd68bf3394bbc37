// Remove a machine: stop and disable it, then delete its rootfs, .nspawn file and service
// drop-in, so nothing of it is left; the shared cache stays unless purged.
import { existsSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Resolved } from "../config/resolve";
import type { TaskLog } from "../engine/log";
import { lockMachine } from "../engine/lock";
import { ConfigError, RunError } from "../errors";
import { ioError } from "../fs/atomic";
import { removeTree } from "../fs/tree";
import { leftoverStagingDirs } from "../rootfs/bootstrap/staging";
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

function removeFile(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw ioError(`remove ${path}`, err);
  }
}

function removeTreeIfThere(path: string): boolean {
  if (!existsSync(path)) return false;
  removeTree(path);
  return true;
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

    const removed: string[] = [];
    for (const dir of [...leftoverStagingDirs(goal.machineDir), goal.machineDir]) if (removeTreeIfThere(dir)) removed.push(dir);
    for (const file of [goal.nspawnConfigFile, goal.serviceOverrideFile]) if (removeFile(file)) removed.push(file);
    const dropins = dirname(goal.serviceOverrideFile);
    if (dropins.endsWith(".service.d") && existsSync(dropins) && readdirSync(dropins).length === 0) {
      rmdirSync(dropins);
      removed.push(dropins);
    }
    // The deleted drop-in must not linger in the running manager.
    if (!hostless) await must(systemd.daemonReload());
    if (opts.purgeCache && removeTreeIfThere(goal.cacheDir)) removed.push(goal.cacheDir);
    return removed;
  } finally {
    lock.release();
  }
}
