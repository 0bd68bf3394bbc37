// One run per machine: a pid lock file under /run/kube-rootfs, created before anything is written.
// Within one process the lock is re-entrant: an update holds both slots' locks for its whole run
// and calls start, stop and provision, which take the same lock again.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { RunError } from "../errors";
import { tryPidLock, type PidLock } from "../fs/pid-lock";

export const LOCK_DIR = "/run/kube-rootfs";

export type MachineLock = PidLock;

/** Locks this process holds, by path, with how many callers hold each. */
const held = new Map<string, { lock: PidLock; count: number }>();

/** Take the pid lock at `path` (re-entrantly), or fail with `busy(holder)`. */
export function lockFile(path: string, busy: (holder: number) => string): MachineLock {
  let entry = held.get(path);
  if (!entry) {
    mkdirSync(join(path, ".."), { recursive: true, mode: 0o755 });
    const lock = tryPidLock(path);
    if ("holder" in lock) throw new RunError(busy(lock.holder));
    entry = { lock, count: 0 };
    held.set(path, entry);
  }
  entry.count++;
  const mine = entry;
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      if (--mine.count > 0) return;
      held.delete(path);
      mine.lock.release();
    },
  };
}

export function lockMachine(machine: string, dir = LOCK_DIR): MachineLock {
  const path = join(dir, `${machine}.lock`);
  return lockFile(path, (holder) => `machine ${machine} is being provisioned by pid ${holder} (lock ${path})`);
}
