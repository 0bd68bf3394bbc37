// upgrade --no-switch, status and the slot record on this host, whose PID 1 is not systemd (the
// switch itself is proven in the nested host: test/e2e/slots-nested.test.ts). Slots are real
// machines under /var/lib/machines, named for this process, provisioned with bootstrap none from
// the loopback artifact mirror.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { compiledBinary, events, run } from "../helpers/binary";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { sandboxRegistry } from "../helpers/sandbox-registry";
import { defaultHostRoot } from "../helpers/fake-host";
import { tempDir } from "../helpers/tmp";

setDefaultTimeout(120_000);

const A = `sla${process.pid}`;
const B = `slb${process.pid}`;
const dirOf = (slot: string) => `/var/lib/machines/${slot}`;
const hostFiles = (slot: string) => [dirOf(slot), `/etc/systemd/nspawn/${slot}.nspawn`, `/etc/systemd/system/systemd-nspawn@${slot}.service.d`];

let bin: string;
let served: Served;
let dir: string;
let record: string;
const env = () => ({ KUBE_ROOTFS_CACHE_DIR: join(dir, "cache"), KUBE_ROOTFS_HOST_ROOT: defaultHostRoot() });
const slotFlags = () => ["--slots", `${A},${B}`, "--record", record];
const kubeRootfs = (...args: string[]) => run([bin, ...args, "--log-format", "json"], env());
const recordNow = () => JSON.parse(readFileSync(record, "utf8"));

/** The identity a joined kubelet leaves: its rotated client certificate, the link to it, its kubeconfig, a machine id. */
const IDENTITY = {
  "var/lib/kubelet/pki/kubelet-client-2026-12-01-10-00-00.pem": "client cert and key\n",
  "var/lib/kubelet/pki/kubelet.crt": "serving cert\n",
  "etc/kubernetes/kubelet.conf": "apiVersion: v1\nkind: Config\n",
  "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
};

beforeAll(async () => {
  bin = await compiledBinary();
  served = await serveDir((await testMirror()).dir);
  dir = tempDir("slots");
  record = join(dir, "slots.json");
  const p = await kubeRootfs("provision", "--machine", A, "--bootstrap-method", "none", "--mirror", served.url, "--hostname", "node-7", "--runtime-sandbox-image", (await sandboxRegistry()).image);
  expect({ code: p.code, stderr: p.stderr }).toEqual({ code: 0, stderr: "" });
  for (const [rel, content] of Object.entries(IDENTITY)) {
    mkdirSync(join(dirOf(A), rel, ".."), { recursive: true });
    writeFileSync(join(dirOf(A), rel), content);
  }
  chmodSync(join(dirOf(A), "etc/kubernetes/kubelet.conf"), 0o600);
  symlinkSync("/var/lib/kubelet/pki/kubelet-client-2026-12-01-10-00-00.pem", join(dirOf(A), "var/lib/kubelet/pki/kubelet-client-current.pem"));
});

afterAll(() => {
  served?.stop();
  for (const p of [...hostFiles(A), ...hostFiles(B)]) rmSync(p, { recursive: true, force: true });
});

describe("before anything switches", () => {
  test("upgrade without --no-switch needs the host's systemd: one line, nothing written", async () => {
    const r = await kubeRootfs("upgrade", ...slotFlags());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kube-rootfs: upgrade: the host has no running systemd \(PID 1 is [^)]*\); upgrade --no-switch prepares the idle slot without switching\n$/);
    expect(existsSync(record)).toBe(false);
    expect(existsSync(dirOf(B))).toBe(false);
  });

  test("--machine is refused: the slots name the machines", async () => {
    const r = await kubeRootfs("upgrade", "--no-switch", "--machine", "kube9", ...slotFlags());
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: "kube-rootfs: --machine: upgrade works on the slots (--slots a,b); each slot is its own machine\n" });
  });

  test("a machine dir from the environment is refused: a slot's paths follow its name", async () => {
    const r = await run([bin, "upgrade", "--no-switch", "--dry-run", ...slotFlags()], { ...env(), KUBE_ROOTFS_MACHINE_DIR: "/srv/elsewhere" });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: `kube-rootfs: machineDir: the config or environment sets it, but each slot's paths follow its name (${dirOf(B)}); leave it out for upgrade\n` });
  });

  test("with no slot provisioned, upgrade says to provision first (exit 2)", async () => {
    const r = await kubeRootfs("upgrade", "--no-switch", "--slots", `${B},slc${process.pid}`, "--record", record);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: `kube-rootfs: no slot is provisioned (${B}, slc${process.pid}): run kube-rootfs provision --machine ${B} first\n` });
  });

  test("--dry-run prints the plan: the idle slot, the merged goal, its downloads, what is carried; it changes nothing", async () => {
    const r = await kubeRootfs("upgrade", "--no-switch", "--dry-run", "--kubernetes-version", "1.34.0", ...slotFlags());
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const plan = events(r.stdout).find((e) => e.msg === "plan")!.fields!;
    expect(plan).toMatchObject({ from: A, to: B, machineDir: dirOf(B), replaces: null, bootstrap: "none", steps: ["provision", "carry identity"] });
    expect((plan.versions as Record<string, string>).kubernetes).toBe("1.34.0");
    // The active slot's saved goal carried the mirror over.
    expect(plan.downloads).toContain(`${served.url}/kubernetes/v1.34.0/bin/linux/amd64/kubelet`);
    expect(plan.carried).toEqual(["var/lib/kubelet/pki", "etc/kubernetes/kubelet.conf", "etc/machine-id", "etc/kubernetes/bootstrap-kubelet.conf", "etc/kubernetes/pki/ca.crt"]);
    expect(existsSync(record)).toBe(false);
    expect(existsSync(dirOf(B))).toBe(false);
  });

  test("status without a record: the one provisioned slot is the node, and it does not run (exit 1)", async () => {
    const r = await kubeRootfs("status", ...slotFlags());
    expect(r.code).toBe(1);
    const s = events(r.stdout).at(-1)!.fields!;
    expect(s).toMatchObject({ active: A, previous: null, switch: null, healthy: false });
    const [a, b] = s.slots as Array<Record<string, unknown>>;
    expect(a).toMatchObject({ name: A, exists: true, running: false, enabled: false, active: true, healthy: false, why: "not running", base: "brought by the user (bootstrap none)" });
    expect(b).toEqual({ name: B, exists: false, running: false, enabled: false, active: false });
  });
});

describe("upgrade --no-switch", () => {
  test("provisions the idle slot with the active slot's goal and the change, carries the identity byte for byte, keeps the active slot", async () => {
    const r = await kubeRootfs("upgrade", "--no-switch", "--kubelet-cluster-dns", "10.96.0.53", ...slotFlags());
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(events(r.stdout).at(-1)).toMatchObject({ msg: `${A} stays active; the idle slot is provisioned (no switch)`, fields: { active: A, previous: null } });
    const saved = JSON.parse(readFileSync(join(dirOf(B), "var/lib/kube-rootfs/goal.json"), "utf8")).goal;
    expect(saved).toMatchObject({ machine: B, hostname: "node-7", mirror: served.url, kubelet: { clusterDNS: ["10.96.0.53"] } });
    for (const [rel, content] of Object.entries(IDENTITY)) expect(readFileSync(join(dirOf(B), rel), "utf8")).toBe(content);
    expect(lstatSync(join(dirOf(B), "etc/kubernetes/kubelet.conf")).mode & 0o777).toBe(0o600);
    expect(readlinkSync(join(dirOf(B), "var/lib/kubelet/pki/kubelet-client-current.pem"))).toBe("/var/lib/kubelet/pki/kubelet-client-2026-12-01-10-00-00.pem");
    // The staged slot waits for the upgrade that switches to it.
    expect(recordNow()).toEqual({ schema: 1, active: A, previous: null, switch: null, staged: B });
  });

  test("a second upgrade beside a running one fails at once, naming it", async () => {
    const first = Bun.spawn([bin, "upgrade", "--no-switch", "--log-format", "json", ...slotFlags()], { env: { ...process.env, ...env() }, stdout: "pipe", stderr: "pipe" });
    // The first holds the lock from before it writes the record's provision step.
    for (let i = 0; i < 200 && recordNow().switch?.step !== "provision"; i++) await Bun.sleep(25);
    const second = await kubeRootfs("upgrade", "--no-switch", ...slotFlags());
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 1, stderr: `kube-rootfs: upgrade: another upgrade or rollback (pid ${first.pid}) is running (lock /run/kube-rootfs/slots.lock)\n` });
    expect(await first.exited).toBe(0);
  });

  test("killed while it provisions: status reports the interrupted switch, the next upgrade clears it and finishes", async () => {
    // Another goal than the staged slot's: this one provisions.
    const dns = ["--kubelet-cluster-dns", "10.96.0.77"];
    const killed = Bun.spawn([bin, "upgrade", "--no-switch", ...dns, "--log-format", "json", ...slotFlags()], { env: { ...process.env, ...env() }, stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 200 && recordNow().switch?.step !== "provision"; i++) await Bun.sleep(25);
    killed.kill("SIGKILL");
    await killed.exited;
    expect(recordNow().switch).toMatchObject({ kind: "upgrade", from: A, to: B, step: "provision" });

    const s = await kubeRootfs("status", ...slotFlags());
    expect(s.code).toBe(1);
    expect(events(s.stdout).at(-1)!.msg).toBe(`not healthy: an interrupted upgrade from ${A} to ${B} stopped at provision; the next upgrade or rollback finishes or undoes it`);

    mkdirSync(`${dirOf(B)}.retired-99999/etc`, { recursive: true }); // as a run killed before its sweep leaves one
    const again = await kubeRootfs("upgrade", "--no-switch", ...dns, ...slotFlags());
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: "" });
    expect(events(again.stdout).find((e) => e.level === "warn")?.msg).toBe(`an interrupted upgrade from ${A} to ${B} stopped at provision: clearing it`);
    expect(recordNow()).toEqual({ schema: 1, active: A, previous: null, switch: null, staged: B });
    expect(existsSync(join(dirOf(B), "var/lib/kube-rootfs/goal.json"))).toBe(true);
    // Every rootfs set aside is gone: this run's and killed runs'.
    expect(readdirSync("/var/lib/machines").filter((n) => n.startsWith(`${B}.retired-`))).toEqual([]);
    // The result is said first; the deletion of what the run replaced comes after it, before the exit.
    expect(events(again.stdout).slice(-2).map((e) => e.msg)).toEqual([`${A} stays active; the idle slot is provisioned (no switch)`, "deleted the replaced rootfs"]);

    // The same goal again finds the slot staged: not provisioned again.
    const saved = statSync(join(dirOf(B), "var/lib/kube-rootfs/goal.json")).mtimeMs;
    const same = await kubeRootfs("upgrade", "--no-switch", ...dns, ...slotFlags());
    expect(same.code).toBe(0);
    expect(events(same.stdout).map((e) => e.msg)).toContain(`${B} is already provisioned with this goal (an earlier upgrade did not switch): not provisioning it again`);
    expect(statSync(join(dirOf(B), "var/lib/kube-rootfs/goal.json")).mtimeMs).toBe(saved);
  });

  test("status lists both slots' versions and verify's verdict", async () => {
    const r = await kubeRootfs("status", ...slotFlags());
    const [a, b] = events(r.stdout).at(-1)!.fields!.slots as Array<Record<string, unknown>>;
    expect(a).toMatchObject({ name: A, active: true, drift: 0 });
    expect(b).toMatchObject({ name: B, exists: true, active: false, drift: 0 });
    expect(typeof b!.kubernetes).toBe("string");
  });

  test("a record that is not one is named, and nothing runs (exit 2)", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{\"schema\":1,\"active\":7}");
    const r = await kubeRootfs("upgrade", "--no-switch", "--slots", `${A},${B}`, "--record", bad);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: `kube-rootfs: ${bad}: the slot record's active is invalid: Invalid input: expected string, received number\n` });
  });
});
