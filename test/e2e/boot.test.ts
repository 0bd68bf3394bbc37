// The product's promise on a real host: the compiled binary bootstraps a Debian rootfs from the
// archive this host's apt uses, installs real containerd, runc and CNI plugins from a loopback
// artifact mirror, and the machine boots with systemd-nspawn reading the generated .nspawn.
// kube2 then comes from the snapshot, and a provision killed during debootstrap converges on
// the next run. Needs root, debootstrap, systemd-container and the host's Debian mirror.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hostDebianMirror } from "../helpers/apt";
import { compiledBinary, events, run } from "../helpers/binary";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { checkNode } from "../helpers/node-checks";
import { boot, type Booted } from "../helpers/nspawn";
import { mountsUnder } from "../../src/rootfs/bootstrap/staging";
import { removeDir } from "../helpers/tmp";
import { faultTest } from "../faults/fault-test";

let bin: string;
let dir: string;
let apt: { mirror: string; suite: string };
let artifacts: Served;
const booted: Booted[] = [];

beforeAll(async () => {
  bin = await compiledBinary();
  apt = hostDebianMirror();
  // Beside /var/lib/machines in spirit: a real disk, not a tmpfs.
  dir = mkdtempSync("/var/tmp/kube-rootfs-boot-");
  artifacts = await serveDir((await testMirror({ arch: ["amd64", "arm64"] })).dir);
}, 120_000);

afterAll(async () => {
  for (const m of booted) await m.poweroff(30_000).catch(() => {});
  artifacts?.stop();
  removeDir(dir);
}, 120_000);

const paths = (name: string) => ({
  root: join(dir, "machines", name),
  nspawn: join(dir, "nspawn", `${name}.nspawn`),
  override: join(dir, "system", `systemd-nspawn@${name}.service.d`, "override.conf"),
});

function provisionArgs(name: string, extra: string[] = []): string[] {
  const p = paths(name);
  return [
    bin, "provision", "--machine", name, "--machine-dir", p.root, "--nspawn-config-file", p.nspawn,
    "--service-override-file", p.override, "--cache-dir", join(dir, "cache"), "--log-format", "json",
    "--bootstrap-method", "debootstrap", "--bootstrap-suite", apt.suite, "--bootstrap-mirror", apt.mirror,
    "--mirror", artifacts.url,
    ...extra,
  ];
}

async function provision(name: string, extra: string[] = []) {
  const started = performance.now();
  const r = await run(provisionArgs(name, extra));
  if (r.code !== 0) throw new Error(`provision ${name} exited ${r.code}: ${r.stderr}\n${r.stdout.slice(-3000)}`);
  console.log(`provision ${name}: ${((performance.now() - started) / 1000).toFixed(1)}s`);
  return events(r.stdout);
}

async function bootAndCheck(name: string) {
  const started = performance.now();
  const m = await boot(name, paths(name).root, paths(name).nspawn);
  booted.push(m);
  await checkNode(m);
  const code = await m.poweroff();
  booted.splice(booted.indexOf(m), 1);
  // nspawn exits with the container's status: 0 after systemd's own poweroff.
  expect(code).toBe(0);
  console.log(`boot, check and poweroff ${name}: ${((performance.now() - started) / 1000).toFixed(1)}s`);
}

describe("a provisioned machine boots", () => {
  test("kube1: debootstrap, snapshot, provision, boot", async () => {
    const ev = await provision("kube1");
    expect(ev.find((e) => e.msg === "bootstrapping")?.fields?.tool).toBe("debootstrap");
    expect(ev.find((e) => e.msg === "snapshot kept")).toBeDefined();
    expect(readdirSync(join(dir, "machines"))).toEqual(["kube1"]);
    await bootAndCheck("kube1");
  }, 480_000);

  test("kube2: restored from the snapshot without debootstrap, boots too", async () => {
    const ev = await provision("kube2");
    expect(ev.find((e) => e.msg === "restored from snapshot")).toBeDefined();
    expect(ev.find((e) => e.msg === "bootstrapping")).toBeUndefined();
    const log = readFileSync(join(dir, "cache", "logs", "kube2-bootstrap.log"), "utf8");
    expect(log).not.toContain("debootstrap ");
    await bootAndCheck("kube2");
  }, 240_000);
});

/** The pids of a process and all its descendants. */
function tree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // gone
  }
  return [pid, ...children.flatMap(tree)];
}

describe("a killed provision converges", () => {
  faultTest("process-sigkill-bootstrap", async () => {
    // Another package list, so this is a fresh debootstrap rather than a snapshot restore.
    const args = provisionArgs("kube3", ["--bootstrap-include", "systemd,systemd-sysv,dbus,iproute2,less"]);
    const proc = Bun.spawn(args, { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
    const staging = join(dir, "machines", `kube3.staging-${proc.pid}`);
    // Kill once debootstrap is unpacking into the staging dir (and has its mounts up, or soon).
    for (let i = 0; i < 600 && !existsSync(join(staging, "var/lib/dpkg")); i++) await Bun.sleep(100);
    expect(existsSync(staging)).toBe(true);
    await Bun.sleep(3000);
    let pids = tree(proc.pid);
    expect(pids.length).toBeGreaterThan(1);
    // The binary first, so it cannot react; then debootstrap's group, and anything left.
    while (pids.length) {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await Bun.sleep(100);
      pids = pids.flatMap(tree).filter((p) => existsSync(`/proc/${p}`) && readFileSync(`/proc/${p}/stat`, "utf8").split(" ")[2] !== "Z");
    }
    await proc.exited;
    expect(existsSync(paths("kube3").root)).toBe(false);

    const ev = await provision("kube3", ["--bootstrap-include", "systemd,systemd-sysv,dbus,iproute2,less"]);
    expect(ev.find((e) => e.msg === "removed leftover staging dir")?.fields?.path).toBe(staging);
    expect(ev.find((e) => e.msg === "bootstrapped")).toBeDefined();
    expect(readFileSync(join(paths("kube3").root, "etc/os-release"), "utf8")).toContain("Debian");
    expect(readdirSync(join(dir, "machines")).filter((n) => n.startsWith("kube3"))).toEqual(["kube3"]);
    expect(mountsUnder(join(dir, "machines"))).toEqual([]);
  }, 360_000);
});
