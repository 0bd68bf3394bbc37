// One run per machine: a pid lock file under /run/kube-rootfs, created before anything is written.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { RunError } from "../errors";
import { tryPidLock, type PidLock } from "../fs/pid-lock";

export const LOCK_DIR = "/run/kube-rootfs";

export type MachineLock = PidLock;

export function lockMachine(machine: string, dir = LOCK_DIR): MachineLock {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, `${machine}.lock`);
  const lock = tryPidLock(path);
  if ("holder" in lock) throw new RunError(`machine ${machine} is being provisioned by pid ${lock.holder} (lock ${path})`);
  return lock;
}
