// A host with systemd as PID 1, for what needs a real systemd (this host's PID 1 is not): a
// Debian "host" machine (mmdebstrap of this host's suite from its apt mirror, with
// systemd-container and Debian's containerd) booted with nspawn in a network namespace of its
// own, with the compiled binary, a rootfs snapshot of the same tree and an artifact mirror bound
// in. Inside it kube-rootfs provisions machines and starts them as systemd-nspawn@: nspawn
// inside nspawn. Each caller names its host, so two test files never share one.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensureImage } from "../../src/images/preload";
import { createSnapshot } from "../../src/rootfs/bootstrap/snapshot";
import { hostDebianMirror } from "./apt";
import type { RunResult } from "./binary";
import { fakeHostRoot } from "./fake-host";
import { testGoal } from "./goal";
import { boot, type Booted } from "./nspawn";
import { sandboxRegistry } from "./sandbox-registry";
import { removeDir } from "./tmp";

/** Where the snapshot and the mirror are bound inside the nested host. */
const SNAPSHOT_DIR = "/mnt/snapshot";
const MIRROR_DIR = "/mnt/mirror";
const SNAPSHOT_NAME = "rootfs.tar.zst";
/**
 * The host root provision uses inside (host.root): a fake host, as every test run of the CLI
 * gets. The nested host's kernel settings are this host's, read-only inside it.
 */
const HOST_ROOT = "/var/lib/kube-rootfs-test/host";

const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface NestedHost {
  /** the nested host's machine name (its hostname too) */
  name: string;
  /** its rootfs, on this host */
  root: string;
  /** the snapshot bound in, on this host */
  snapshotFile: string;
  /** provision's goal flags for a machine inside: the snapshot as base, the bound mirror, the sandbox image its cache holds */
  provisionArgs: string[];
  /** Run argv inside, with a clean environment. */
  sh(...argv: string[]): Promise<RunResult>;
  /** kube-rootfs inside, with --log-format json. */
  kubeRootfs(...args: string[]): Promise<RunResult>;
  /** The last lines of a unit's journal inside. */
  journal(unit: string, lines?: number): Promise<string>;
  /** argv for a command run on this host but in the nested host's network namespace (its loopback is the nested host's). */
  inNetwork(argv: string[]): string[];
  /** Power it off and remove its tree. */
  dispose(): Promise<void>;
}

export interface NestedHostOptions {
  name: string;
  /** the compiled kube-rootfs, bound in at /usr/local/bin/kube-rootfs */
  bin: string;
  /** an artifact mirror dir (upstream layout), bound in read-only */
  mirrorDir: string;
  /** Debian packages the host gets beyond its own (they end up in the snapshot too) */
  packages?: string[];
}

const secs = (from: number, to = performance.now()) => `${((to - from) / 1000).toFixed(1)}s`;

/** Build, boot and wait for the nested host; it is settled (running or degraded) when this resolves. */
export async function nestedHost(opts: NestedHostOptions): Promise<NestedHost> {
  const dir = mkdtempSync(`/var/tmp/kube-rootfs-${opts.name}-`);
  let booted: Booted | undefined;
  try {
    const t0 = performance.now();
    const root = join(dir, "host");
    await mmdebstrapHost(root, [...HOST_PACKAGES, ...(opts.packages ?? [])], join(dir, "mmdebstrap.log"));
    const t1 = performance.now();
    // The machines inside are restored from a snapshot of the same tree: it has systemd, and
    // Debian's containerd.service, which start waits for.
    const snapshotFile = join(dir, "snapshot", SNAPSHOT_NAME);
    mkdirSync(dirname(snapshotFile));
    const snapshotSha = await createSnapshot(root, snapshotFile, join(dir, "snapshot.log"), new AbortController().signal, "zstd");
    const t2 = performance.now();
    // The host's cache holds the sandbox image, as a fetch leaves it: from its own network
    // namespace the host reaches no loopback registry of this host.
    const sandbox = (await sandboxRegistry()).image;
    await ensureImage(testGoal({ cacheDir: join(root, "var/cache/kube-rootfs"), runtime: { sandboxImage: sandbox } }), sandbox, new AbortController().signal);
    // The host itself runs no containerd.
    symlinkSync("/dev/null", join(root, "etc/systemd/system/containerd.service"));
    writeFileSync(join(root, "etc/hostname"), `${opts.name}\n`);
    fakeHostRoot({}, join(root, HOST_ROOT));
    const settings = join(dir, `${opts.name}.nspawn`);
    writeFileSync(settings, hostSettings(opts, dirname(snapshotFile)));
    booted = await boot(opts.name, root, { nspawn: settings, env: { SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" } });
    const state = await booted.settled();
    if (!["running", "degraded"].includes(state)) throw new Error(`nested host ${opts.name}: systemd ${state}: ${booted.console().slice(-2000)}`);
    console.log(`nested host ${opts.name}: mmdebstrap ${secs(t0, t1)}, snapshot ${secs(t1, t2)}, boot ${secs(t2)}`);

    const host = booted;
    const sh = (...argv: string[]) => host.exec(["env", "-i", PATH, ...argv]);
    return {
      name: opts.name,
      root,
      snapshotFile,
      provisionArgs: [
        "--bootstrap-method", "tarball", "--bootstrap-tarball", join(SNAPSHOT_DIR, SNAPSHOT_NAME), "--bootstrap-sha256", snapshotSha,
        "--mirror", `file://${MIRROR_DIR}`, "--runtime-sandbox-image", sandbox, "--host-root", HOST_ROOT,
      ],
      sh,
      kubeRootfs: (...args) => sh("kube-rootfs", ...args, "--log-format", "json"),
      journal: async (unit, lines = 60) => (await sh("journalctl", "-u", unit, "--no-pager", "-n", String(lines))).stdout,
      inNetwork: (argv) => ["nsenter", "-t", String(host.init), "-n", "--", ...argv],
      async dispose() {
        await host.poweroff(60_000).catch(() => {});
        removeDir(dir);
      },
    };
  } catch (err) {
    await booted?.poweroff(60_000).catch(() => {});
    removeDir(dir);
    throw err;
  }
}

/** systemd and nspawn to be a host; containerd for the machines made from its snapshot; zstd and attr (setfattr) for provision from a snapshot and from an image. */
const HOST_PACKAGES = ["systemd", "systemd-sysv", "dbus", "systemd-container", "containerd", "zstd", "attr"];

async function mmdebstrapHost(root: string, packages: string[], log: string) {
  const apt = hostDebianMirror();
  const mm = Bun.spawn(
    ["mmdebstrap", "--mode=root", "--format=directory", "--variant=minbase", "--components=main", `--include=${packages.join(",")}`, apt.suite, root, apt.mirror],
    { stdin: "ignore", stdout: Bun.file(log), stderr: Bun.file(log) },
  );
  if ((await mm.exited) !== 0) throw new Error(`mmdebstrap failed: ${(await Bun.file(log).text()).slice(-2000)}`);
}

function hostSettings(opts: NestedHostOptions, snapshotDir: string): string {
  return [
    "[Exec]", "Boot=yes", "Capability=all", "PrivateUsers=no",
    // Its own network namespace: nothing it starts touches this host's network.
    "[Network]", "Private=yes",
    "[Files]",
    `BindReadOnly=${opts.bin}:/usr/local/bin/kube-rootfs`,
    `BindReadOnly=${snapshotDir}:${SNAPSHOT_DIR}`,
    `BindReadOnly=${opts.mirrorDir}:${MIRROR_DIR}`,
    "",
  ].join("\n");
}
