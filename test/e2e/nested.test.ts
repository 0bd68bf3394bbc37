// start, stop and remove through a real systemd: this host's PID 1 is not systemd, so the test
// boots a Debian "host" machine whose PID 1 is (mmdebstrap from the host's apt mirror, with
// systemd-container and Debian's containerd), in its own network namespace, with the compiled
// binary, a rootfs snapshot and the loopback artifact mirror bound in. Inside it, kube-rootfs
// provisions a machine and starts it as systemd-nspawn@<machine>.service: nspawn inside nspawn.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureImage } from "../../src/images/preload";
import { createSnapshot } from "../../src/rootfs/bootstrap/snapshot";
import { hostDebianMirror } from "../helpers/apt";
import { compiledBinary, events } from "../helpers/binary";
import { testMirror } from "../helpers/mirror";
import { testGoal } from "../helpers/goal";
import { boot, type Booted } from "../helpers/nspawn";
import { sandboxRegistry } from "../helpers/sandbox-registry";
import { removeDir } from "../helpers/tmp";

const M = "mcn1";
const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
let dir: string;
let host: Booted | undefined;
let snapshotSha: string;
let sandbox: string;

/** Run in the booted host with a clean environment. */
const sh = async (...argv: string[]) => host!.exec(["env", "-i", PATH, ...argv]);
const kubeRootfs = (...args: string[]) => sh("kube-rootfs", ...args, "--log-format", "json");

beforeAll(async () => {
  const bin = await compiledBinary();
  const mirror = await testMirror({ arch: ["amd64", "arm64"] });
  const apt = hostDebianMirror();
  dir = mkdtempSync("/var/tmp/kube-rootfs-nested-");
  const t0 = performance.now();
  const secs = (from: number, to = performance.now()) => `${((to - from) / 1000).toFixed(1)}s`;
  const root = join(dir, "host");
  const log = join(dir, "mmdebstrap.log");
  const mm = Bun.spawn(
    ["mmdebstrap", "--mode=root", "--format=directory", "--variant=minbase", "--components=main",
      "--include=systemd,systemd-sysv,dbus,systemd-container,containerd,zstd", apt.suite, root, apt.mirror],
    { stdin: "ignore", stdout: Bun.file(log), stderr: Bun.file(log) },
  );
  if ((await mm.exited) !== 0) throw new Error(`mmdebstrap failed: ${(await Bun.file(log).text()).slice(-2000)}`);

  const t1 = performance.now();
  // The machine inside is restored from a snapshot of the same tree: it has systemd, and
  // Debian's containerd.service, which start waits for.
  mkdirSync(join(dir, "snapshot"));
  snapshotSha = await createSnapshot(root, join(dir, "snapshot", "rootfs.tar.zst"), join(dir, "snapshot.log"), new AbortController().signal, "zstd");

  const t2 = performance.now();
  // The host's cache holds the sandbox image, as a fetch leaves it: from its own network
  // namespace the host reaches no loopback registry.
  sandbox = (await sandboxRegistry()).image;
  await ensureImage(testGoal({ cacheDir: join(root, "var/cache/kube-rootfs"), runtime: { sandboxImage: sandbox } }), sandbox, new AbortController().signal);
  // The host itself runs no containerd.
  symlinkSync("/dev/null", join(root, "etc/systemd/system/containerd.service"));
  writeFileSync(join(root, "etc/hostname"), "mc-host\n");
  const settings = join(dir, "mc-host.nspawn");
  writeFileSync(
    settings,
    [
      "[Exec]", "Boot=yes", "Capability=all", "PrivateUsers=no",
      // Its own network namespace: nothing it starts touches the host's network.
      "[Network]", "Private=yes",
      "[Files]",
      `BindReadOnly=${bin}:/usr/local/bin/kube-rootfs`,
      `BindReadOnly=${join(dir, "snapshot")}:/mnt/snapshot`,
      `BindReadOnly=${mirror.dir}:/mnt/mirror`,
      "",
    ].join("\n"),
  );
  host = await boot("mc-host", root, { nspawn: settings, env: { SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" } });
  expect(["running", "degraded"]).toContain(await host.settled());
  console.log(`nested host: mmdebstrap ${secs(t0, t1)}, snapshot ${secs(t1, t2)}, boot ${secs(t2)}`);
}, 300_000);

afterAll(async () => {
  await host?.poweroff(60_000).catch(() => {});
  if (dir) removeDir(dir);
}, 120_000);

describe("a host with systemd as PID 1", () => {
  test("is one: start's precondition holds there", async () => {
    expect((await sh("cat", "/proc/1/comm")).stdout.trim()).toBe("systemd");
    expect((await sh("test", "-d", "/run/systemd/system")).code).toBe(0);
  });

  test("provision, then start: enabled, the machine's systemd up and containerd active inside", async () => {
    const p = await kubeRootfs(
      "provision", "--machine", M, "--bootstrap-method", "tarball", "--bootstrap-tarball", "/mnt/snapshot/rootfs.tar.zst",
      "--bootstrap-sha256", snapshotSha, "--mirror", "file:///mnt/mirror", "--runtime-sandbox-image", sandbox,
    );
    if (p.code !== 0) throw new Error(`provision exited ${p.code}: ${p.stderr}\n${p.stdout.slice(-2000)}`);

    const started = performance.now();
    const s = await kubeRootfs("start", "--machine", M, "--timeout", "180");
    console.log(`start ${M} in the nested host: ${((performance.now() - started) / 1000).toFixed(1)}s`);
    if (s.code !== 0) console.log((await sh("journalctl", "-u", `systemd-nspawn@${M}.service`, "--no-pager", "-n", "60")).stdout);
    expect(s.stderr).toBe("");
    expect(s.code).toBe(0);
    const up = events(s.stdout).at(-1)!;
    console.log(up.msg);
    expect(["running", "degraded"]).toContain(up.fields?.system as string);
    expect(up.msg).toStartWith(`${M} is up: systemd ${up.fields?.system}`);
    expect(up.fields?.containerd).toBe("active");
    expect((await sh("systemctl", "is-enabled", `systemd-nspawn@${M}.service`)).stdout.trim()).toBe("enabled");
    expect((await sh("systemctl", "-M", M, "is-active", "containerd.service")).stdout.trim()).toBe("active");
    // Booted from the provisioned dir with the generated drop-in.
    expect((await sh("systemctl", "show", `systemd-nspawn@${M}.service`, "--property=DropInPaths", "--value")).stdout).toContain(`systemd-nspawn@${M}.service.d/override.conf`);

    // A second start finds it running and only waits.
    const again = await kubeRootfs("start", "--machine", M);
    expect(again.code).toBe(0);
    expect(events(again.stdout).at(-1)?.fields?.already).toBe(true);
  }, 300_000);

  test("stop: powered off and disabled, so it stays down", async () => {
    const r = await kubeRootfs("stop", "--machine", M);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(events(r.stdout).at(-1)?.msg).toBe(`${M} powered off; disabled`);
    expect((await sh("machinectl", "show", M)).code).not.toBe(0);
    expect((await sh("systemctl", "is-active", `systemd-nspawn@${M}.service`)).stdout.trim()).toBe("inactive");
    expect((await sh("systemctl", "is-enabled", `systemd-nspawn@${M}.service`)).stdout.trim()).toBe("disabled");

    const again = await kubeRootfs("stop", "--machine", M);
    expect(again.code).toBe(0);
    expect(events(again.stdout).at(-1)?.msg).toBe(`${M} was not running; disabled`);
  }, 120_000);

  test("start clears a machine left registered by a hand-started nspawn, then boots it as the service", async () => {
    const stray = await sh("systemd-run", "--unit=mc-stray", "systemd-nspawn", "--quiet", "--boot", "-M", M, "-D", `/var/lib/machines/${M}`);
    expect(stray.code).toBe(0);
    for (let i = 0; i < 100 && (await sh("machinectl", "show", M)).code !== 0; i++) await Bun.sleep(200);
    expect((await sh("machinectl", "show", M, "--property=Unit", "--value")).stdout.trim()).toBe(`machine-${M}.scope`);

    const s = await kubeRootfs("start", "--machine", M, "--timeout", "180");
    expect(s.stderr).toBe("");
    expect(s.code).toBe(0);
    const ev = events(s.stdout);
    expect(ev.find((e) => e.level === "warn")?.msg).toBe("still registered from an earlier run: terminating it");
    expect(ev.at(-1)?.fields?.cleared).toBe(true);
    expect((await sh("machinectl", "show", M, "--property=Unit", "--value")).stdout.trim()).toBe(`systemd-nspawn@${M}.service`);
  }, 300_000);

  test("stop gives the machine --timeout seconds to power off, then kills it", async () => {
    // A unit inside that never stops holds the machine's shutdown (poweroff.target waits 30 min).
    const hold = await sh("systemd-run", "-M", M, "--unit=mc-hold", "-p", "KillSignal=SIGCONT", "-p", "SendSIGKILL=no", "-p", "TimeoutStopSec=infinity", "sleep", "infinity");
    expect(hold.code).toBe(0);
    const r = await kubeRootfs("stop", "--machine", M, "--timeout", "3");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.level === "warn")?.msg).toBe("did not power off within 3s: killing it");
    expect(ev.at(-1)?.msg).toBe(`${M} killed; disabled`);
    expect((await sh("machinectl", "show", M)).code).not.toBe(0);
    // Stopped, not restarted by Restart=on-failure, and its failed state reset.
    expect((await sh("systemctl", "is-active", `systemd-nspawn@${M}.service`)).stdout.trim()).toBe("inactive");
  }, 300_000);

  test("start says when the machine's systemd is degraded, naming the failed units", async () => {
    const etc = join(dir, "host", "var/lib/machines", M, "etc/systemd/system");
    writeFileSync(join(etc, "mc-fail.service"), "[Service]\nType=oneshot\nExecStart=/bin/false\n[Install]\nWantedBy=multi-user.target\n");
    symlinkSync("../mc-fail.service", join(etc, "multi-user.target.wants", "mc-fail.service"));
    const s = await kubeRootfs("start", "--machine", M);
    expect(s.code).toBe(0);
    const up = events(s.stdout).at(-1)!;
    expect(up.level).toBe("warn");
    expect(up.msg).toBe(`${M} is up: systemd degraded (failed: mc-fail.service), containerd active`);
    expect(up.fields?.failed).toEqual(["mc-fail.service"]);
  }, 300_000);

  test("remove of the running machine: stopped, disabled, no trace left; the cache stays", async () => {
    const r = await kubeRootfs("remove", "--machine", M);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(events(r.stdout).at(-1)?.fields?.removed).toEqual([
      `/var/lib/machines/${M}`, `/etc/systemd/nspawn/${M}.nspawn`,
      `/etc/systemd/system/systemd-nspawn@${M}.service.d/override.conf`, `/etc/systemd/system/systemd-nspawn@${M}.service.d`,
    ]);
    for (const gone of [`/var/lib/machines/${M}`, `/etc/systemd/nspawn/${M}.nspawn`, `/etc/systemd/system/systemd-nspawn@${M}.service.d`]) {
      expect((await sh("test", "-e", gone)).code).toBe(1);
    }
    expect((await sh("machinectl", "show", M)).code).not.toBe(0);
    expect((await sh("systemctl", "is-enabled", `systemd-nspawn@${M}.service`)).stdout.trim()).toBe("disabled");
    // The drop-in is gone from the running manager too.
    expect((await sh("systemctl", "show", `systemd-nspawn@${M}.service`, "--property=DropInPaths", "--value")).stdout.trim()).toBe("");
    expect((await sh("test", "-d", "/var/cache/kube-rootfs")).code).toBe(0);
  }, 180_000);

  test("start says what is missing: a machine never provisioned, a machine without containerd.service", async () => {
    const none = await kubeRootfs("start", "--machine", "mcn2");
    expect(none.code).toBe(1);
    expect(none.stderr).toBe("kube-rootfs: start mcn2: machine dir /var/lib/machines/mcn2 does not exist; run kube-rootfs provision first\n");

    const p = await kubeRootfs(
      "provision", "--machine", "mcn2", "--bootstrap-method", "tarball", "--bootstrap-tarball", "/mnt/snapshot/rootfs.tar.zst",
      "--bootstrap-sha256", snapshotSha, "--mirror", "file:///mnt/mirror", "--runtime-sandbox-image", sandbox,
    );
    expect(p.code).toBe(0);
    for (const unit of ["etc/systemd/system/containerd.service", "lib/systemd/system/containerd.service", "etc/systemd/system/multi-user.target.wants/containerd.service"]) {
      expect((await sh("rm", "-f", `/var/lib/machines/mcn2/${unit}`)).code).toBe(0);
    }
    const s = await kubeRootfs("start", "--machine", "mcn2", "--timeout", "120");
    expect(s.code).toBe(1);
    expect(s.stderr).toBe("kube-rootfs: start mcn2: containerd.service is not installed in the machine; run kube-rootfs provision\n");
    // It booted, though: start reports, it does not undo.
    expect((await sh("systemctl", "is-active", "systemd-nspawn@mcn2.service")).stdout.trim()).toBe("active");
    expect((await kubeRootfs("remove", "--machine", "mcn2")).code).toBe(0);
  }, 300_000);
});
