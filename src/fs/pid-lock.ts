// Lock files holding their owner's pid, created exclusively; a lock whose pid is gone (a killed
// run) is taken over. One run per machine holds one for the whole run; a shared cache file that
// is read, changed and written back (an image layout's index.json) holds one for that moment.
import { linkSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { RunError } from "../errors";
import { isAlive } from "./pid";

export interface PidLock {
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

/**
 * Create the lock file holding our pid, or false when one exists. The file appears with its pid
 * in it (written aside, then hard-linked into place): an exclusive create followed by a write
 * would show other runs an empty lock for a moment, which they would take for a stale one.
 */
function createLock(path: string): boolean {
  const mine = `${path}.new-${process.pid}`;
  try {
    writeFileSync(mine, String(process.pid), { mode: 0o644 });
    linkSync(mine, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new RunError(`lock ${path}: ${(err as Error).message}`);
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Take the lock at `path`, or name the live process holding it. */
export function tryPidLock(path: string): PidLock | { holder: number } {
  const release = () => {
    if (holderOf(path) === process.pid) unlinkSync(path);
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createLock(path)) return { path, release };
    const holder = holderOf(path);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) return { holder };
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

/** This process's holders and waiters, by lock path: the file alone cannot tell two of them apart. */
const queued = new Map<string, Promise<unknown>>();

/**
 * Run `fn` holding the lock at `path`, waiting (up to `waitMs`) while another live process holds
 * it; callers in this process take their turns first.
 */
export function withPidLock<T>(path: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const turn = (queued.get(path) ?? Promise.resolve()).catch(() => undefined).then(() => holding(path, fn, waitMs));
  queued.set(path, turn);
  const forget = () => void (queued.get(path) === turn && queued.delete(path));
  turn.then(forget, forget);
  return turn;
}

async function holding<T>(path: string, fn: () => Promise<T>, waitMs: number): Promise<T> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const lock = tryPidLock(path);
    if ("release" in lock) {
      try {
        return await fn();
      } finally {
        lock.release();
      }
    }
    if (performance.now() > deadline) throw new RunError(`lock ${path}: held by pid ${lock.holder} for over ${waitMs / 1000} s`);
    await Bun.sleep(10);
  }
}
