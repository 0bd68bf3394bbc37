// The product's promise on a real host: the compiled binary bootstraps a Debian rootfs from the
// archive this host's apt uses, installs real containerd, runc and CNI plugins from a loopback
// artifact mirror and sets them up as a node, and the machine boots with systemd-nspawn reading
// the generated .nspawn and override, inside a network namespace of its own: containerd runs
// from our unit and runs a networked container, kubelet waits for join material. kube2 then
// comes from the snapshot, is given join material and starts kubelet; gpu1 comes from the snapshot
// with a fake GPU host's device node and library bound and containerd 1.7 with CDI on; and a
// provision killed during debootstrap converges on the next run.
// Needs root, debootstrap, systemd-container, busybox-static, gcc, the host's Debian mirror and
// the containerd 1.7 scripts/setup.sh unpacks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostDebianMirror } from "../helpers/apt";
import { compiledBinary, events, run, testEnv } from "../helpers/binary";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { DRIVER, fakeGpuHost, LIB_DIR } from "../helpers/fake-gpu-host";
import { CDI_CONTAINERD_DIR, checkNode, hostContainerdVersion, kubeletCrashLoops } from "../helpers/node-checks";
import { fakeHostRoot, STOCK_SYSCTLS } from "../helpers/fake-host";
import { unprepareHostKernel } from "../helpers/host-kernel";
import { saveRealHost, swapOn, type SavedHost, type TestSwap } from "../helpers/real-host";
import { KUBELET_SYSCTLS } from "../../scripts/kubelet-standin";
import { HOST_MANIFEST } from "../../src/hostprep/manifest";
import { SYSCTL_FILE } from "../../src/hostprep/settings";
import { SWAP_COMMENT } from "../../src/hostprep/swap";
import { sha256File } from "../../src/fs/hash";
import { boot, type Booted } from "../helpers/nspawn";
import { busyboxImage } from "../helpers/oci";
import { sandboxRegistry } from "../helpers/sandbox-registry";
import { realHost } from "../../src/host/probe";
import { mountsUnder } from "../../src/fs/tree";
import { removeDir } from "../helpers/tmp";
import { faultTest } from "../faults/fault-test";

let bin: string;
let dir: string;
let apt: { mirror: string; suite: string };
let artifacts: Served;
let image: string;
let sandbox: string;
const booted: Booted[] = [];
/** This host's kernel settings and host files, put back after the tests that let provision change them. */
let host: SavedHost;
let swap: TestSwap | undefined;

const containerdVersion = hostContainerdVersion();
const IMAGE_REF = "localhost/node-test/busybox:1";
const arch = process.arch === "arm64" ? "arm64" : "amd64";

beforeAll(async () => {
  bin = await compiledBinary();
  apt = hostDebianMirror();
  // Beside /var/lib/machines in spirit: a real disk, not a tmpfs.
  dir = mkdtempSync("/var/tmp/kube-rootfs-boot-");
  // Served until afterAll: a debootstrap on a busy machine outlasts serveDir's default 2 minutes.
  artifacts = await serveDir((await testMirror({ arch: ["amd64", "arm64"], containerd: containerdVersion })).dir, { timeoutMs: 30 * 60_000 });
  image = await busyboxImage(IMAGE_REF, arch);
  sandbox = (await sandboxRegistry()).image;
  host = saveRealHost();
}, 120_000);

afterAll(async () => {
  for (const m of booted) await m.poweroff(30_000).catch(() => {});
  swap?.off();
  host?.restore();
  artifacts?.stop();
  removeDir(dir);
}, 120_000);

const paths = (name: string) => ({
  root: join(dir, "machines", name),
  nspawn: join(dir, "nspawn", `${name}.nspawn`),
  override: join(dir, "system", `systemd-nspawn@${name}.service.d`, "override.conf"),
});

/** The artifact mirror and the containerd version it serves (the host's Debian one unless given). */
interface Artifacts {
  url: string;
  containerd: string;
}

function provisionArgs(name: string, extra: string[] = [], from: Artifacts = { url: artifacts.url, containerd: containerdVersion }): string[] {
  const p = paths(name);
  return [
    bin, "provision", "--machine", name, "--machine-dir", p.root, "--nspawn-config-file", p.nspawn,
    "--service-override-file", p.override, "--cache-dir", join(dir, "cache"), "--log-format", "json",
    "--bootstrap-tool", "debootstrap", "--bootstrap-suite", apt.suite, "--bootstrap-mirror", apt.mirror,
    "--mirror", from.url, "--containerd-version", from.containerd, "--runtime-sandbox-image", sandbox,
    ...extra,
  ];
}

async function provision(name: string, extra: string[] = [], from?: Artifacts) {
  const started = performance.now();
  const r = await run(provisionArgs(name, extra, from));
  if (r.code !== 0) throw new Error(`provision ${name} exited ${r.code}: ${r.stderr}\n${r.stdout.slice(-3000)}`);
  console.log(`provision ${name}: ${((performance.now() - started) / 1000).toFixed(1)}s`);
  return events(r.stdout);
}

/** A bootstrap kubeconfig with a real self-signed cluster CA. */
async function joinMaterial(): Promise<string> {
  const key = join(dir, "ca.key");
  const crt = join(dir, "ca.crt");
  const openssl = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=node-test-ca", "-days", "1", "-keyout", key, "-out", crt]);
  if (openssl.exitCode !== 0) throw new Error(`openssl: ${openssl.stderr}`);
  const file = join(dir, "bootstrap-kubelet.conf");
  writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "  - name: test",
      `    cluster: {server: "https://192.0.2.10:6443", certificate-authority-data: ${readFileSync(crt).toString("base64")}}`,
      "contexts:",
      "  - name: join",
      "    context: {cluster: test, user: bootstrap}",
      "current-context: join",
      "users:",
      "  - name: bootstrap",
      "    user: {token: abcdef.0123456789abcdef}",
      "",
    ].join("\n"),
  );
  return file;
}

/** A bridge network whose addresses exist only inside the machine's network namespace. */
const CONFLIST = JSON.stringify({
  cniVersion: "1.0.0",
  name: "nodetest",
  plugins: [{ type: "bridge", bridge: "cni0", isGateway: true, ipam: { type: "host-local", ranges: [[{ subnet: "10.88.0.0/24", gateway: "10.88.0.1" }]] } }],
});

/** The test's own busybox image, imported into containerd's CRI namespace and run on the bridge. */
async function runContainer(m: Booted) {
  const ctr = ["/usr/local/bin/ctr", "-n", "k8s.io"];
  const imported = await m.exec([...ctr, "images", "import", "/root/busybox-oci.tar"]);
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  expect((await m.exec([...ctr, "images", "ls", "-q"])).stdout).toContain(IMAGE_REF);
  // This machine kind has hybrid cgroups: the machine's unified hierarchy
  // (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1) has no controllers, so runc cannot set the CPU weight
  // ctr asks for by default (1024 shares), just as pods with limits fail: what doctor warns of.
  if (!realHost.cgroups().controllers.includes("cpu")) {
    const limited = await m.exec([...ctr, "run", "--rm", IMAGE_REF, "nodetest0", "true"]);
    expect(limited.code).not.toBe(0);
    expect(limited.stderr).toContain("cpu.weight: no such file or directory");
  }
  // --cpu-shares 0 asks for no CPU weight at all.
  const run = await m.exec([
    ...ctr, "run", "--rm", "--cni", "--cpu-shares", "0", IMAGE_REF, "nodetest1",
    "sh", "-c", "ip -4 addr show eth0 && ping -c 1 -W 5 10.88.0.1",
  ]);
  if (run.code !== 0) console.log(`ctr run: ${run.stdout}\n${run.stderr}\n${(await m.exec(["journalctl", "-u", "containerd", "--no-pager", "-n", "40"])).stdout}`);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/inet 10\.88\.0\.\d+\/24/);
  expect(run.stdout).toContain("1 packets transmitted, 1 packets received");
  // The bridge lives in the machine's network namespace, not the host's.
  expect((await m.exec(["test", "-e", "/sys/class/net/cni0"])).code).toBe(0);
  expect(existsSync("/sys/class/net/cni0")).toBe(false);
}

/** Boot a machine, run `check` inside, power it off cleanly (also when the check fails). */
async function booting<T>(name: string, check: (m: Booted) => Promise<T>): Promise<T> {
  const m = await boot(name, paths(name).root, paths(name));
  booted.push(m);
  let done = false;
  try {
    const got = await check(m);
    done = true;
    return got;
  } finally {
    const code = await m.poweroff();
    booted.splice(booted.indexOf(m), 1);
    // nspawn exits with the container's status: 0 after systemd's own poweroff.
    if (done) expect(code).toBe(0);
  }
}

async function bootAndCheck(name: string, opts: { joined?: boolean; inside?: (m: Booted) => Promise<void> } = {}) {
  const started = performance.now();
  await booting(name, async (m) => {
    await checkNode(m, opts.joined ?? false);
    await opts.inside?.(m);
  });
  console.log(`boot, check and poweroff ${name}: ${((performance.now() - started) / 1000).toFixed(1)}s`);
}

/** Boot a machine whose kubelet must not start: it exits and systemd keeps restarting it; its journal. */
async function bootCrashLooping(name: string): Promise<string> {
  const journal = await booting(name, async (m) => {
    expect(await m.settled()).toBe("running");
    return kubeletCrashLoops(m);
  });
  console.log(`${name}: kubelet keeps exiting:\n${journal.trim()}`);
  return journal;
}

describe("a provisioned machine boots", () => {
  test("kube1: debootstrap, snapshot, provision, boot", async () => {
    const ev = await provision("kube1");
    expect(ev.find((e) => e.msg === "bootstrapping")?.fields?.tool).toBe("debootstrap");
    expect(ev.find((e) => e.msg === "snapshot kept")).toBeDefined();
    expect(readdirSync(join(dir, "machines"))).toEqual(["kube1"]);
    expect(readFileSync(join(paths("kube1").root, "etc/containerd/config.toml"), "utf8")).toContain("\nversion = 2\n");
    const verify = await run([bin, "verify", ...provisionArgs("kube1").slice(2)]);
    expect(verify.stdout).not.toContain('"drift"');
    expect(verify.code).toBe(0);
    // Test inputs, not product files: the image to import and a bridge network for ctr run --cni.
    copyFileSync(image, join(paths("kube1").root, "root/busybox-oci.tar"));
    mkdirSync(join(paths("kube1").root, "etc/cni/net.d"), { recursive: true });
    writeFileSync(join(paths("kube1").root, "etc/cni/net.d/10-nodetest.conflist"), CONFLIST);
    await bootAndCheck("kube1", { inside: runContainer });
  }, 480_000);

  // A stock host's kernel differs from kubelet's values (vm.overcommit_memory 0, kernel.panic 1,
  // kernel.panic_on_oops 0 on this machine kind) and the machine cannot write them. The kernel is
  // given those stock values first, whatever an earlier run left (afterAll puts back what it found),
  // and the sysctl file a run may have left goes too (afterAll puts it back).
  test("kube2 without the host phase: from the snapshot, given join material; kubelet exits at the kernel settings and keeps restarting", async () => {
    unprepareHostKernel(KUBELET_SYSCTLS.map(([path]) => path.replaceAll("/", ".")));
    rmSync(SYSCTL_FILE, { force: true });
    const differing = KUBELET_SYSCTLS.filter(([path, value]) => STOCK_SYSCTLS[path.replaceAll("/", ".")] !== String(value));
    const ev = await provision("kube2", ["--kubelet-bootstrap-kubeconfig", await joinMaterial(), "--host-root", "/", "--skip-phases", "host"]);
    expect(ev.find((e) => e.msg === "restored from snapshot")).toBeDefined();
    expect(ev.find((e) => e.msg === "bootstrapping")).toBeUndefined();
    const log = readFileSync(join(dir, "cache", "logs", "kube2-bootstrap.log"), "utf8");
    expect(log).not.toContain("debootstrap ");
    expect(readFileSync(join(paths("kube2").root, "etc/kubernetes/pki/ca.crt"), "utf8")).toBe(readFileSync(join(dir, "ca.crt"), "utf8"));
    expect(existsSync(SYSCTL_FILE)).toBe(false);
    const journal = await bootCrashLooping("kube2");
    const errors = differing.map(([path]) => `open /proc/sys/${path}: read-only file system`);
    expect(journal).toContain(`"Failed to start ContainerManager" err="${errors.length > 1 ? `[${errors.join(", ")}]` : errors[0]}"`);
  }, 240_000);

  test("kube2 with the host phase on this host: the sysctl file written, the running kernel given kubelet's values; kubelet stays up", async () => {
    const ev = await provision("kube2", ["--host-root", "/"]);
    expect(ev.find((e) => e.msg === "completed" && e.task === "host")).toBeDefined();
    const file = readFileSync(SYSCTL_FILE, "utf8");
    for (const [path, value] of KUBELET_SYSCTLS) {
      expect(file).toContain(`\n${path.replaceAll("/", ".")} = ${value}\n`);
      expect(readFileSync(`/proc/sys/${path}`, "utf8").trim()).toBe(String(value));
    }
    expect(JSON.parse(readFileSync(HOST_MANIFEST, "utf8")).files.map((f: { path: string }) => f.path)).toContain(SYSCTL_FILE);
    await bootAndCheck("kube2", { joined: true });
  }, 240_000);

  test("kube2 on a host with active swap: kubelet exits until provision tells it to tolerate the swap, then stays up", async () => {
    swap = swapOn(dir);
    try {
      const journal = await bootCrashLooping("kube2");
      expect(journal).toContain("failed to run Kubelet: running with swap on is not supported, please disable swap or set --fail-swap-on flag to false");
      await provision("kube2", ["--host-root", "/"]);
      const config = readFileSync(join(paths("kube2").root, "var/lib/kubelet/config.yaml"), "utf8");
      expect(config).toContain("\nfailSwapOn: false\nmemorySwap:\n  swapBehavior: NoSwap\n");
      await bootAndCheck("kube2", { joined: true });
      expect(readFileSync("/proc/swaps", "utf8")).toContain(swap.line);
    } finally {
      swap.off();
    }
  }, 240_000);

  test("host.swap off: the swap turned off now and its line in the (fake root's) fstab commented out; kubelet stays up", async () => {
    swap = swapOn(dir);
    try {
      const fstab = `UUID=0a1b /               ext4    errors=remount-ro 0       1\n${swap.path} none swap sw 0 0\n`;
      const fake = fakeHostRoot({ swaps: [swap.line], fstab });
      const ev = await provision("kube2", ["--host-root", fake, "--host-swap", "off"]);
      expect(ev.find((e) => e.msg === "turned swap off")?.fields?.area).toBe(swap.path);
      expect(readFileSync("/proc/swaps", "utf8")).not.toContain(swap.path);
      expect(readFileSync(join(fake, "etc/fstab"), "utf8")).toBe(fstab.replace(`${swap.path} none`, `${SWAP_COMMENT}${swap.path} none`));
      expect(readFileSync(join(fake, "etc/fstab.kube-rootfs.bak"), "utf8")).toBe(fstab);
      expect(readFileSync(join(paths("kube2").root, "var/lib/kubelet/config.yaml"), "utf8")).not.toContain("failSwapOn");
      await bootAndCheck("kube2", { joined: true });
    } finally {
      swap.off();
    }
  }, 240_000);

  // No GPU here: the host root is a fake one (helpers/fake-gpu-host.ts) with a real char device
  // node at NVIDIA's 195:0 and a driver library stand-in, bound into a real boot. containerd is
  // Debian trixie's 1.7, which has CDI (the host's 1.6 has none).
  test("gpu1: from the snapshot, a fake GPU host's device node and library bound, containerd with CDI", async () => {
    const host = fakeGpuHost({ minimal: true });
    const cdiContainerd = hostContainerdVersion(join(CDI_CONTAINERD_DIR, "containerd"));
    const mirror = await serveDir((await testMirror({ arch: [arch], containerd: cdiContainerd, containerdDir: CDI_CONTAINERD_DIR })).dir, { timeoutMs: 10 * 60_000 });
    try {
      const ev = await provision("gpu1", ["--gpu-host-root", host.root], { url: mirror.url, containerd: cdiContainerd });
      expect(ev.find((e) => e.msg === "restored from snapshot")).toBeDefined();
      expect(ev.filter((e) => e.level === "warn" && e.msg.startsWith("gpu:"))).toEqual([]);
    } finally {
      mirror.stop();
    }
    await bootAndCheck("gpu1", { inside: (m) => gpuInside(m, host.root) });
  }, 240_000);
});

/** The bound node and library inside the booted machine, its linker cache, and containerd's CDI. */
async function gpuInside(m: Booted, hostRoot: string) {
  // 195:0 in hex, as stat prints device numbers
  expect((await m.exec(["stat", "-c", "%F %t:%T", "/dev/nvidia0"])).stdout.trim()).toBe("character special file c3:0");
  const lib = `${LIB_DIR}/libcuda.so.${DRIVER}`;
  const inside = await m.exec(["sha256sum", lib]);
  expect(inside.stdout.split(" ")[0]).toBe(await sha256File(join(hostRoot, lib)));
  expect((await m.exec(["systemctl", "is-active", "kube-rootfs-gpu-ldconfig.service"])).stdout.trim()).toBe("active");
  expect((await m.exec(["ldconfig", "-p"])).stdout).toContain(`libcuda.so.1 (libc6,`);
  const dump = (await m.exec(["/usr/local/bin/containerd", "config", "dump"])).stdout;
  expect(dump).toContain("enable_cdi = true");
  expect(dump).toContain('cdi_spec_dirs = ["/etc/cdi", "/var/run/cdi"]');
  expect((await m.exec(["test", "-f", "/etc/cdi/nvidia.yaml"])).code).toBe(0);
}

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
    const proc = Bun.spawn(args, { env: testEnv(), stdout: "ignore", stderr: "ignore", stdin: "ignore" });
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
