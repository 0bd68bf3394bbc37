import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockMachine } from "../../src/engine/lock";
import { withPidLock } from "../../src/fs/pid-lock";

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "kube-rootfs-lock-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that surely is not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const p = Bun.spawn(["true"]);
  await p.exited;
  return p.pid;
}

test("taken, refused to a second holder while its owner lives, released", async () => {
  const lock = lockMachine("kube1", dir);
  expect(readFileSync(lock.path, "utf8")).toBe(String(process.pid));
  const sleeper = Bun.spawn(["sleep", "30"]);
  try {
    writeFileSync(join(dir, "kube2.lock"), String(sleeper.pid));
    expect(() => lockMachine("kube2", dir)).toThrow(`machine kube2 is being provisioned by pid ${sleeper.pid} (lock ${dir}/kube2.lock)`);
  } finally {
    sleeper.kill();
  }
  lock.release();
  expect(existsSync(lock.path)).toBe(false);
});

test("a lock left by a dead process is taken over", async () => {
  writeFileSync(join(dir, "kube1.lock"), String(await deadPid()));
  const lock = lockMachine("kube1", dir);
  expect(readFileSync(lock.path, "utf8")).toBe(String(process.pid));
  lock.release();
});

test("different machines lock independently", () => {
  const a = lockMachine("kube1", dir);
  const b = lockMachine("kube2", dir);
  expect(a.path).not.toBe(b.path);
  a.release();
  b.release();
});

test("re-entrant within one process: the file stays until the last holder releases", () => {
  const outer = lockMachine("kube1", dir);
  const inner = lockMachine("kube1", dir);
  inner.release();
  inner.release(); // a second release of the same handle changes nothing
  expect(readFileSync(outer.path, "utf8")).toBe(String(process.pid));
  outer.release();
  expect(existsSync(outer.path)).toBe(false);
});

test("withPidLock waits while a live process holds the lock, then runs; a dead holder's lock is taken over", async () => {
  const path = join(dir, "index.json.lock");
  const holder = Bun.spawn(["sleep", "30"]);
  writeFileSync(path, String(holder.pid));
  let ran = false;
  const waiting = withPidLock(path, async () => {
    ran = true;
    expect(readFileSync(path, "utf8")).toBe(String(process.pid));
  });
  await Bun.sleep(100);
  expect(ran).toBe(false);
  holder.kill();
  await holder.exited;
  await waiting;
  expect(ran).toBe(true);
  expect(existsSync(path)).toBe(false);
  writeFileSync(path, String(await deadPid()));
  expect(await withPidLock(path, async () => "taken over")).toBe("taken over");
});

test("withPidLock gives up after its wait, naming the lock and its holder", async () => {
  const path = join(dir, "busy.lock");
  const holder = Bun.spawn(["sleep", "30"]);
  writeFileSync(path, String(holder.pid));
  try {
    await expect(withPidLock(path, async () => undefined, 50)).rejects.toThrow(`lock ${path}: held by pid ${holder.pid} for over 0.05 s`);
  } finally {
    holder.kill();
  }
});

test("withPidLock: callers in one process take turns (the file alone cannot tell them apart)", async () => {
  const path = join(dir, "turns.lock");
  const order: string[] = [];
  const step = (name: string) => withPidLock(path, async () => {
    order.push(`${name} in`);
    await Bun.sleep(20);
    order.push(`${name} out`);
  });
  await Promise.all([step("a"), step("b"), step("c")]);
  expect(order).toEqual(["a in", "a out", "b in", "b out", "c in", "c out"]);
  expect(existsSync(path)).toBe(false);
});
