// One run per machine: a lock file holding the owner's pid, created exclusively before anything
// is written. A lock whose pid is gone is taken over.
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RunError } from "../errors";
import { isAlive } from "../fs/pid";

export const LOCK_DIR = "/run/kube-rootfs";

export interface MachineLock {
  path: string;
  release(): void;
}

const holderOf = (path: string): number | undefined => {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

export function lockMachine(machine: string, dir = LOCK_DIR): MachineLock {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, `${machine}.lock`);
  const me = String(process.pid);
  const release = () => {
    if (holderOf(path) === process.pid) unlinkSync(path);
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(path, me, { flag: "wx", mode: 0o644 });
      return { path, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new RunError(`lock ${path}: ${(err as Error).message}`);
    }
    const holder = holderOf(path);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      throw new RunError(`machine ${machine} is being provisioned by pid ${holder} (lock ${path})`);
    }
    // Stale: its owner died. Move it aside, and only remove it if it is still the stale one
    // (another run may have taken it over in between); then try the exclusive create again.
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    if (holderOf(aside) !== holder) {
      try {
        linkSync(aside, path); // put a live lock back, never over a newer one
      } catch {
        // a newer lock is in place already
      }
    }
    unlinkSync(aside);
  }
  throw new RunError(`lock ${path}: could not be taken (other runs keep taking it)`);
}
