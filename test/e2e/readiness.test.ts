// The README's main command on this host: the compiled binary's `provision --dry-run` with
// nothing but defaults plans every phase and task for the host's own suite and exits 0; a
// blocker is listed after the whole plan, exit 1; a run without root is told to run as root
// before any lock is taken; an unknown suite is a usage error.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LOCK_DIR } from "../../src/engine/lock";
import { compiledBinary, events, run } from "../helpers/binary";
import { fakeHostRoot } from "../helpers/fake-host";
import { tempDir } from "../helpers/tmp";

/** Every phase and task of a provision, as its log names them. */
const PLAN = ["workspace", "ensure-workspace", "install", "kube", "cri", "cni", "configure-os", "disable-resolved"];

let bin: string;
const hostSuite = () => /^VERSION_CODENAME=(.*)$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1]?.replace(/"/g, "");

beforeAll(async () => {
  bin = await compiledBinary();
}, 120_000);

/** Where each task started and ended in the event stream. */
const startedTasks = (ev: ReturnType<typeof events>) => ev.filter((e) => e.msg === "started").map((e) => e.task);

describe("provision --dry-run with the defaults", () => {
  test("exit 0, every phase and task planned, the host's suite and tool, readiness last", async () => {
    const r = await run([bin, "provision", "--dry-run", "--log-format", "json"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const ev = events(r.stdout);
    const plan = ev.find((e) => e.msg === "plan")!;
    expect(plan.fields!.suite).toBe(`${hostSuite()} (the host's)`);
    expect(plan.fields!.tool).toBe(Bun.which("mmdebstrap") ? "mmdebstrap" : "debootstrap");
    const started = startedTasks(ev);
    for (const name of PLAN) expect(started).toContain(name);
    expect(started.at(-1)).toBe("readiness");
    const lastPlanned = ev.findLastIndex((e) => e.task === "provision");
    expect(ev.findIndex((e) => e.task === "readiness")).toBeGreaterThan(lastPlanned);
    expect(ev.filter((e) => e.task === "readiness" && e.msg.startsWith("root: ")).map((e) => e.msg)).toEqual(["root: running as root"]);
  });

  test("a blocker is listed after the whole plan, exit 1", async () => {
    const r = await run([bin, "provision", "--dry-run", "--bootstrap-keyring", "/nonexistent/keyring.gpg", "--bootstrap-method", "bootstrap", "--log-format", "json"]);
    expect(r.code).toBe(1);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.task === "provision" && e.msg !== "started")?.msg).toBeOneOf(["completed", "skipped"]);
    for (const name of PLAN) expect(startedTasks(ev)).toContain(name);
    const failed = ev.find((e) => e.task === "readiness" && e.msg === "failed")!;
    expect(ev.indexOf(failed)).toBeGreaterThan(ev.findLastIndex((e) => e.task === "provision"));
    expect(r.stderr).toContain("kube-rootfs: readiness: archive keyring: bootstrap.keyring /nonexistent/keyring.gpg does not exist");
  });
});

describe("without root", () => {
  const nobody = (args: string[]) => {
    // The test's binary lives in a private temp dir: nobody gets a copy it can run.
    const dir = tempDir("rd-nobody");
    chmodSync(dir, 0o755);
    const copy = join(dir, "kube-rootfs");
    copyFileSync(bin, copy);
    chmodSync(copy, 0o755);
    // A host root it can read, as a real host's /proc and /etc are to anyone.
    const host = fakeHostRoot({}, join(dir, "host"));
    return run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", copy, ...args], { KUBE_ROOTFS_HOST_ROOT: host });
  };

  test("a real run says run as root, before the machine lock, and takes none", async () => {
    const machine = `rd-nonroot-${process.pid}`;
    const r = await nobody(["provision", "--machine", machine, "--log-format", "json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("kube-rootfs: readiness: root: running as uid 65534 (fix: run as root (sudo kube-rootfs …))");
    expect(r.stderr).not.toContain("EACCES");
    expect(existsSync(join(LOCK_DIR, `${machine}.lock`))).toBe(false);
    expect(events(r.stdout).some((e) => e.task === "ensure-workspace")).toBe(false);
  });

  test("a dry run plans everything, then names root as the blocker", async () => {
    const r = await nobody(["provision", "--dry-run", "--machine", `rd-nonroot-dry-${process.pid}`, "--log-format", "json"]);
    expect(r.code).toBe(1);
    for (const name of PLAN) expect(startedTasks(events(r.stdout))).toContain(name);
    expect(r.stderr).toContain("readiness: root: running as uid 65534");
  });
});

test("fetch --dry-run --with-rootfs: every URL, then the blocker, exit 1", async () => {
  const bundle = tempDir("rd-fetch");
  const r = await run([bin, "fetch", "--dry-run", "--with-rootfs", "--bundle", bundle, "--bootstrap-keyring", "/nonexistent/keyring.gpg", "--log-format", "json"]);
  expect(r.code).toBe(1);
  const ev = events(r.stdout);
  expect(ev.find((e) => e.msg === "plan")!.fields!.suite).toBe(`${hostSuite()} (the host's)`);
  expect(ev.filter((e) => e.msg === "would fetch")).toHaveLength(7);
  const failed = ev.findIndex((e) => e.task === "readiness" && e.msg === "failed");
  expect(failed).toBeGreaterThan(ev.findIndex((e) => e.msg === "would bootstrap and keep a snapshot"));
  expect(r.stderr.trim()).toBe("kube-rootfs: readiness: archive keyring: bootstrap.keyring /nonexistent/keyring.gpg does not exist (fix: pass an existing --bootstrap-keyring FILE)");
});

test("an unknown suite is a usage error before anything runs", async () => {
  const r = await run([bin, "provision", "--dry-run", "--bootstrap-suite", "hamm", "--log-format", "json"]);
  expect(r.code).toBe(2);
  expect(r.stderr.trim()).toStartWith("kube-rootfs: bootstrap.suite: unknown suite hamm");
  expect(events(r.stdout)).toEqual([]);
});
