// One x64 host makes the rootfs of both arches and publishes them: `fetch --with-rootfs --arch
// amd64,arm64` bootstraps arm64 with mmdebstrap under qemu-user (binfmt_misc, set up by
// scripts/setup.sh), the arm64 tree runs through systemd-nspawn, and `image push` turns both
// snapshots into one multi-arch image on Debian's docker-registry, which skopeo reads and umoci
// unpacks to the very trees the snapshots hold. Needs root, mmdebstrap, qemu-user-static with its
// binfmt handler, systemd-container, docker-registry, skopeo, umoci and the host's Debian mirror.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LOCK_FILE, readLock } from "../../src/bundle/lock";
import { MEDIA, sha256Digest } from "../../src/oci/media";
import { restoreSnapshot } from "../../src/rootfs/bootstrap/snapshot";
import { hostDebianMirror } from "../helpers/apt";
import { compiledBinary, events, run, type RunResult } from "../helpers/binary";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { startRegistry, type TestRegistry } from "../helpers/registry";
import { removeDir, tempDir } from "../helpers/tmp";
import { describeTree, treeDiff } from "../helpers/tree";
import { checkNode, hostContainerdVersion } from "../helpers/node-checks";
import { boot, type Booted } from "../helpers/nspawn";
import { sandboxImageArgs } from "../helpers/sandbox-registry";
import { keepSnapshots, lendSnapshots } from "../helpers/shared-snapshots";

// Small on purpose: arm64 maintainer scripts run under emulation. Enough for a boot.
const INCLUDE = "systemd,systemd-sysv,dbus";

let bin: string;
let dir: string;
let bundle: string;
let apt: { mirror: string; suite: string };
let artifacts: Served;
let registry: TestRegistry;
let booted: Booted | undefined;

beforeAll(async () => {
  bin = await compiledBinary();
  apt = hostDebianMirror();
  dir = tempDir("xa-image");
  bundle = join(dir, "bundle");
  // Served for the whole file: the emulated bootstrap alone takes minutes.
  artifacts = await serveDir((await testMirror({ arch: ["amd64", "arm64"], containerd: hostContainerdVersion() })).dir, { timeoutMs: 1_800_000 });
  registry = await startRegistry();
}, 120_000);

afterAll(async () => {
  await booted?.poweroff(30_000).catch(() => {});
  artifacts?.stop();
  registry?.stop();
  removeDir(dir); // GBs of trees: more than the default hook timeout
}, 120_000);

const ok = (r: RunResult) => expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
const bootstrap = () => ["--bootstrap-tool", "mmdebstrap", "--bootstrap-suite", apt.suite, "--bootstrap-mirror", apt.mirror, "--bootstrap-include", INCLUDE];

/** Run argv in the tree with systemd-nspawn (no boot, no host systemd needed); fails unless it exits 0. */
async function inside(root: string, argv: string[]): Promise<string> {
  const r = await run(["systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "-D", root, ...argv]);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} in ${root}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe("cross-arch on one x64 host", () => {
  test("doctor --arch arm64: the binfmt handler is there", async () => {
    const r = await run([bin, "doctor", "--arch", "arm64", "--log-format", "json", ...bootstrap()]);
    const arch = events(r.stdout).find((e) => e.fields?.check === "binfmt");
    expect(arch).toMatchObject({ msg: "binfmt: arm64 on an amd64 host, through the qemu-aarch64 binfmt handler", fields: { status: "ok" } });
  });

  test("fetch --with-rootfs --arch amd64,arm64 keeps a snapshot of each", async () => {
    const lent = lendSnapshots(bundle);
    const started = performance.now();
    const r = await run([bin, "fetch", "--bundle", bundle, "--arch", "amd64,arm64", "--with-rootfs", "--mirror", artifacts.url, "--containerd-version", hostContainerdVersion(), ...(await sandboxImageArgs()), "--log-format", "json", ...bootstrap()]);
    ok(r);
    console.log(`fetch --with-rootfs amd64,arm64: ${((performance.now() - started) / 1000).toFixed(1)}s`);
    const lock = readLock(join(bundle, LOCK_FILE));
    expect(Object.keys(lock.rootfs).sort()).toEqual(["amd64", "arm64"]);
    keepSnapshots(bundle);
    // Made here unless an earlier file of the run made the same two (test/helpers/shared-snapshots.ts).
    expect(events(r.stdout).filter((e) => e.msg === "snapshot kept")).toHaveLength(2 - lent.filter((n) => n.endsWith(".tar.zst")).length);
  }, 900_000);

  test("the arm64 rootfs runs /bin/true and says aarch64 through systemd-nspawn", async () => {
    const root = join(dir, "arm64-root");
    const restore = await run([
      bin, "provision", "--machine", `xa-arm-${process.pid}`, "--machine-dir", root, "--nspawn-config-file", join(dir, "arm.nspawn"),
      "--service-override-file", join(dir, "arm.override.conf"), "--arch", "arm64", "--cache-dir", bundle, "--offline",
      "--skip-phases", "install", ...(await sandboxImageArgs()), "--log-format", "json", ...bootstrap(),
    ]);
    ok(restore);
    expect(restore.stdout).toContain('"restored from snapshot"');
    await inside(root, ["/bin/true"]);
    expect((await inside(root, ["uname", "-m"])).trim()).toBe("aarch64");
    expect((await inside(root, ["dpkg", "--print-architecture"])).trim()).toBe("arm64");
  }, 120_000);
});

/** `image push` of the bundle's snapshots; the digest it prints, and its JSON events. */
async function push(ref: string, extra: string[] = []) {
  const r = await run([bin, "image", "push", `${registry.host}/${ref}`, "--cache-dir", bundle, "--log-format", "json", ...bootstrap(), ...extra]);
  ok(r);
  const digest = r.stdout.split("\n").find((l) => l.startsWith("sha256:"));
  return { digest, events: events(r.stdout) };
}

const skopeo = async (...argv: string[]) => {
  const r = await run(["skopeo", ...argv]);
  if (r.code !== 0) throw new Error(`skopeo ${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
};

/** The image as umoci unpacks it (after skopeo copies it into an OCI layout, as gzip: this umoci reads no zstd). */
async function umociTree(ref: string, arch: string): Promise<Map<string, string>> {
  const name = `${arch}-${ref.replace(/\W/g, "-")}`;
  mkdirSync(join(dir, "oci"), { recursive: true });
  await skopeo("copy", "--quiet", "--src-tls-verify=false", "--override-arch", arch, "--dest-compress-format", "gzip", `docker://${registry.host}/${ref}`, `oci:${join(dir, "oci", name)}:x`);
  const r = await run(["umoci", "unpack", "--image", `${join(dir, "oci", name)}:x`, join(dir, "umoci", name)]);
  if (r.code !== 0) throw new Error(`umoci unpack: ${r.stderr}`);
  return describeTree(join(dir, "umoci", name, "rootfs"));
}

/** The tree a bundle snapshot holds, restored the way provision restores it. */
async function snapshotTree(arch: "amd64" | "arm64"): Promise<Map<string, string>> {
  const into = join(dir, "snapshot-trees", arch);
  mkdirSync(into, { recursive: true });
  await restoreSnapshot(join(bundle, readLock(join(bundle, LOCK_FILE)).rootfs[arch]!.path), into, join(dir, "restore.log"), new AbortController().signal);
  return describeTree(into);
}

describe("image push", () => {
  let multi: string | undefined;

  test("--arch amd64,arm64 pushes an index of both; skopeo reads it", async () => {
    const pushed = await push("xa/rootfs:multi", ["--arch", "amd64,arm64"]);
    multi = pushed.digest;
    expect(multi).toMatch(/^sha256:[0-9a-f]{64}$/);
    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/xa/rootfs:multi`);
    expect(sha256Digest(raw)).toBe(multi!);
    const index = JSON.parse(raw);
    expect(index.mediaType).toBe(MEDIA.ociIndex);
    expect(index.manifests.map((m: { platform: unknown }) => m.platform)).toEqual([
      { architecture: "amd64", os: "linux" },
      { architecture: "arm64", os: "linux", variant: "v8" },
    ]);
    const arm = JSON.parse(await skopeo("inspect", "--tls-verify=false", "--override-arch", "arm64", "--override-variant", "v8", `docker://${registry.host}/xa/rootfs:multi`));
    expect(arm).toMatchObject({ Architecture: "arm64", Os: "linux", Layers: [expect.stringMatching(/^sha256:/)] });
    const manifest = JSON.parse(await skopeo("inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/xa/rootfs@${index.manifests[1].digest}`));
    expect(manifest.layers).toEqual([expect.objectContaining({ mediaType: MEDIA.ociLayerZstd })]);
  }, 120_000);

  test("pushing the same snapshots again uploads nothing and gives the same digest", async () => {
    const again = await push("xa/rootfs:multi", ["--arch", "amd64,arm64"]);
    expect(again.digest).toBe(multi!);
    expect(again.events.filter((e) => e.msg === "blob uploaded")).toEqual([]);
    expect(again.events.filter((e) => e.msg === "blob present")).toHaveLength(4);
  }, 120_000);

  test("umoci unpacks the arm64 image (zstd layer) to the tree of its snapshot, file by file", async () => {
    expect(treeDiff(await umociTree("xa/rootfs:multi", "arm64"), await snapshotTree("arm64"), ["umoci", "snapshot"])).toEqual([]);
  }, 120_000);

  test("--compression gzip: a gzip layer, and umoci unpacks it to the snapshot's tree", async () => {
    const pushed = await push("xa/rootfs:gzip", ["--compression", "gzip", "--arch", "amd64"]);
    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/xa/rootfs:gzip`);
    expect(sha256Digest(raw)).toBe(pushed.digest!);
    const manifest = JSON.parse(raw);
    expect(manifest.layers).toEqual([expect.objectContaining({ mediaType: MEDIA.ociLayerGzip })]);
    expect(treeDiff(await umociTree("xa/rootfs:gzip", "amd64"), await snapshotTree("amd64"), ["umoci", "snapshot"])).toEqual([]);
  }, 120_000);

  test("a machine provisioned from the pushed image boots and passes the boot checks", async () => {
    const name = `xa-boot-${process.pid}`;
    const root = join(dir, "machines", name);
    const nspawn = join(dir, `${name}.nspawn`);
    const r = await run([
      bin, "provision", "--machine", name, "--machine-dir", root, "--nspawn-config-file", nspawn, "--service-override-file", join(dir, `${name}.conf`),
      "--cache-dir", join(dir, "pull-cache"), "--mirror", artifacts.url, ...(await sandboxImageArgs()), "--log-format", "json",
      "--bootstrap-method", "image", "--bootstrap-image", `${registry.host}/xa/rootfs:multi`, "--containerd-version", hostContainerdVersion(),
    ]);
    ok(r);
    expect(events(r.stdout).find((e) => e.msg === "unpacked image")?.fields?.image).toBe(`${registry.host}/xa/rootfs:multi`);
    booted = await boot(name, root, { nspawn, override: join(dir, `${name}.conf`) });
    await checkNode(booted);
    expect((await booted.exec(["dpkg", "--print-architecture"])).stdout.trim()).toBe("amd64");
    const code = await booted.poweroff();
    booted = undefined;
    expect(code).toBe(0);
  }, 300_000);

  test("--dry-run names what it would push and pushes nothing", async () => {
    const r = await run([bin, "image", "push", `${registry.host}/xa/rootfs:dry`, "--dry-run", "--arch", "amd64,arm64", "--cache-dir", bundle, "--log-format", "json", ...bootstrap()]);
    ok(r);
    expect(events(r.stdout).filter((e) => e.msg === "would push").map((e) => e.fields?.arch)).toEqual(["amd64", "arm64"]);
    expect((await run(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/xa/rootfs:dry`])).code).not.toBe(0);
  });

  test("bad usage: one line, exit 2", async () => {
    const digestRef = await run([bin, "image", "push", `${registry.host}/xa/rootfs@sha256:${"0".repeat(64)}`, "--cache-dir", bundle, ...bootstrap()]);
    expect({ code: digestRef.code, stderr: digestRef.stderr }).toEqual({ code: 2, stderr: `kube-rootfs: image push ${registry.host}/xa/rootfs@sha256:${"0".repeat(64)}: give a tag (host/repo:tag), not a digest\n` });
    const compression = await run([bin, "image", "push", `${registry.host}/xa/rootfs:1`, "--compression", "xz"]);
    expect({ code: compression.code, stderr: compression.stderr }).toEqual({ code: 2, stderr: "kube-rootfs: --compression: expected zstd|gzip, got xz\n" });
    const action = await run([bin, "image", "pull", `${registry.host}/xa/rootfs:1`]);
    expect({ code: action.code, stderr: action.stderr }).toEqual({ code: 2, stderr: "kube-rootfs: image: expected the action push, got pull (kube-rootfs image push REF)\n" });
    const none = await run([bin, "image"]);
    expect({ code: none.code, stderr: none.stderr }).toEqual({ code: 2, stderr: "kube-rootfs: image: expected the action push, got none (kube-rootfs image push REF)\n" });
  });

  test("a registry that is not there: one line naming it, exit 1", async () => {
    const r = await run([bin, "image", "push", "127.0.0.1:9/xa/rootfs:1", "--cache-dir", bundle, "--retries", "1", "--log-format", "json", ...bootstrap()]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^kube-rootfs: registry 127\.0\.0\.1:9: GET https:\/\/127\.0\.0\.1:9\/v2\/: .*\(gave up after 1 attempts\)$/)]);
  });
});
