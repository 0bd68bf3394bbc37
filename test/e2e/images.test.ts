// Container images for an air-gapped node, end to end with the compiled binary: a real
// docker-registry on 127.0.0.1 holds a two-arch busybox image the test builds (Debian's
// busybox-static) under the sandbox image's name and an app's name; `fetch --bundle` pulls them
// for amd64 and arm64 beside the artifacts and the rootfs snapshot (one mmdebstrap), pins them in
// the lock and asks the registry nothing the second time; `provision --offline` inside
// `unshare --net` copies them into the machine; the machine boots, its import unit puts them
// into containerd's k8s.io namespace, a second boot does not import again, and the boot after a
// provision that changed the set does.
// Needs root, mmdebstrap, systemd-container, docker-registry, skopeo and the host's Debian mirror.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOCK_FILE, readLock } from "../../src/bundle/lock";
import { imagesLayout } from "../../src/images/preload";
import { IMAGES_RECORD, readImagesRecord } from "../../src/runtime/images";
import { hostDebianMirror } from "../helpers/apt";
import { compiledBinary, events, run, type RunResult } from "../helpers/binary";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { boot, type Booted } from "../helpers/nspawn";
import { twoArchBusyboxLayout } from "../helpers/oci";
import { startRegistry, type TestRegistry } from "../helpers/registry";
import { startRegistryProxy, type RegistryProxy } from "../helpers/registry-proxy";
import { removeDir } from "../helpers/tmp";
import { keepSnapshots, lendSnapshots } from "../helpers/shared-snapshots";

let bin: string;
let dir: string;
let bundle: string;
let apt: { mirror: string; suite: string };
let artifacts: Served;
let registry: TestRegistry;
let proxy: RegistryProxy;
let sandbox: string;
let app: string;
const booted: Booted[] = [];

const containerdVersion = / (\d+\.\d+\.\d+)/.exec(Bun.spawnSync(["containerd", "--version"]).stdout.toString())![1]!;
const MACHINE = `img1-${process.pid}`;

function sh(argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const sha256 = (bytes: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  bin = await compiledBinary();
  apt = hostDebianMirror();
  dir = mkdtempSync("/var/tmp/kube-rootfs-img-");
  bundle = join(dir, "bundle");
  artifacts = await serveDir((await testMirror({ arch: ["amd64", "arm64"], containerd: containerdVersion })).dir, { timeoutMs: 30 * 60_000 });
  registry = await startRegistry();
  const layout = await twoArchBusyboxLayout(dir);
  for (const name of ["pause:3.10", "tools/busybox:1"]) {
    sh(["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", `oci:${layout}:multi`, `docker://${registry.host}/${name}`]);
  }
  // Pulls go through a proxy that records every request.
  proxy = startRegistryProxy(registry.url);
  sandbox = `${proxy.host}/pause:3.10`;
  app = `${proxy.host}/tools/busybox:1`;
}, 120_000);

afterAll(async () => {
  for (const m of booted) await m.poweroff(30_000).catch(() => {});
  proxy?.stop();
  registry?.stop();
  artifacts?.stop();
  removeDir(dir);
}, 120_000);

/** The machine dir and its settings files, in the test's dir. */
const machine = () => ({ root: join(dir, "machine"), nspawn: join(dir, `${MACHINE}.nspawn`), override: join(dir, "override.conf") });

const goalArgs = () => [
  "--images", app, "--runtime-sandbox-image", sandbox, "--containerd-version", containerdVersion, "--log-format", "json",
  "--bootstrap-tool", "mmdebstrap", "--bootstrap-suite", apt.suite, "--bootstrap-mirror", apt.mirror, "--bootstrap-include", "systemd,systemd-sysv,dbus",
];
const fetchArgs = () => [bin, "fetch", "--bundle", bundle, "--arch", "amd64,arm64", "--with-rootfs", "--mirror", artifacts.url, ...goalArgs()];
const machineArgs = () => [
  "--machine", MACHINE, "--machine-dir", machine().root, "--nspawn-config-file", machine().nspawn, "--service-override-file", machine().override,
  "--hostname", "node1", "--arch", "amd64", "--offline", "--cache-dir", bundle, ...goalArgs(),
];

const ok = (r: RunResult) => expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });

describe("images for an air-gapped node", () => {
  test("fetch --bundle pulls each image for both arches, pins it in the lock, and a second fetch asks the registry nothing", async () => {
    const plan = await run([...fetchArgs(), "--dry-run"]);
    ok(plan);
    const planned = events(plan.stdout).filter((e) => e.msg === "would pull image").map((e) => `${e.fields!.image} ${e.fields!.arch}`);
    expect(planned.sort()).toEqual([app, sandbox].flatMap((i) => [`${i} amd64`, `${i} arm64`]).sort());
    expect(proxy.seen).toEqual([]);

    lendSnapshots(bundle);
    const started = performance.now();
    ok(await run(fetchArgs()));
    keepSnapshots(bundle);
    console.log(`fetch with rootfs and images: ${((performance.now() - started) / 1000).toFixed(1)}s`);
    const lock = readLock(join(bundle, LOCK_FILE));
    expect(Object.keys(lock.images).sort()).toEqual([sandbox, app].sort());
    const index = JSON.parse(sh(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/pause:3.10`])) as { manifests: Array<{ digest: string; size: number; platform: { architecture: string } }> };
    for (const image of [sandbox, app]) {
      for (const m of index.manifests) expect(lock.images[image]![m.platform.architecture]).toEqual({ digest: m.digest, size: m.size });
    }
    // One layout: the two names share every blob.
    expect(imagesLayout(bundle).index().manifests.map((d) => d.annotations?.["org.opencontainers.image.ref.name"]).sort()).toEqual([sandbox, app].sort());

    const seen = proxy.seen.length;
    const again = await run(fetchArgs());
    ok(again);
    expect(proxy.seen.slice(seen)).toEqual([]);
    expect(events(again.stdout).filter((e) => e.msg === "image in bundle")).toHaveLength(4);
    expect(readLock(join(bundle, LOCK_FILE))).toEqual(lock);
  }, 600_000);

  test("fetch --check re-hashes every image blob and names a flipped one", async () => {
    ok(await run([bin, "fetch", "--check", "--bundle", bundle]));
    const lock = readLock(join(bundle, LOCK_FILE));
    const layout = imagesLayout(bundle);
    const manifest = layout.readJSON<{ layers: Array<{ digest: string }> }>({ mediaType: "", ...lock.images[app]!.arm64! });
    const victim = layout.blobPath(manifest.layers[0]!.digest);
    const original = readFileSync(victim);
    const flipped = Buffer.from(original);
    flipped[700] = flipped[700]! ^ 1;
    writeFileSync(victim, flipped);
    try {
      const bad = await run([bin, "fetch", "--check", "--bundle", bundle]);
      expect(bad.code).toBe(1);
      // Both names and both arches share the layer (the same static busybox): each is named.
      const hex = manifest.layers[0]!.digest.slice(7);
      const expected = [app, sandbox].flatMap((i) => ["amd64", "arm64"].map((arch) => `kube-rootfs: image ${i} ${arch} blob: images/blobs/sha256/${hex} has sha256 ${sha256(flipped)}, the lock says ${hex}`));
      expect(bad.stderr.trim().split("\n").sort()).toEqual(expected.sort());
    } finally {
      writeFileSync(victim, original);
    }
  });

  test("provision --offline lists an image the bundle lacks, before touching anything", async () => {
    const missing = `${proxy.host}/absent:1`;
    const r = await run(["unshare", "--net", bin, "provision", ...machineArgs(), "--images", `${app},${missing}`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`image ${missing} (${join(bundle, "images")})`);
    expect(() => readFileSync(machine().nspawn)).toThrow();
  });

  test("--lock pins each image: a lock without it is a usage error, a digest the bundle lacks is listed as missing", async () => {
    const lock = readLock(join(bundle, LOCK_FILE));
    const without = join(dir, "no-images.lock");
    writeFileSync(without, JSON.stringify({ ...lock, images: {} }));
    const r = await run([bin, "provision", ...machineArgs(), "--lock", without]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([sandbox, app].map((i) => `kube-rootfs: lock ${without}: no image ${i} for amd64`));

    const other = join(dir, "other-digest.lock");
    const digest = `sha256:${"1".repeat(64)}`;
    writeFileSync(other, JSON.stringify({ ...lock, images: { ...lock.images, [app]: { amd64: { digest, size: 1 } } } }));
    const missing = await run(["unshare", "--net", bin, "provision", ...machineArgs(), "--lock", other]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`image ${app} (${join(bundle, "images")})`);
    expect(() => readFileSync(machine().nspawn)).toThrow();
  });

  test("provision --offline inside unshare --net copies the images in; verify is clean", async () => {
    const started = performance.now();
    const r = await run(["unshare", "--net", bin, "provision", ...machineArgs(), "--lock", join(bundle, LOCK_FILE)]);
    ok(r);
    console.log(`provision --offline from the bundle: ${((performance.now() - started) / 1000).toFixed(1)}s`);
    expect(r.stdout).toContain('"restored from snapshot"');
    const record = readImagesRecord(machine().root)!;
    const lock = readLock(join(bundle, LOCK_FILE));
    expect(record.map((e) => [e.image, e.digest])).toEqual([sandbox, app].map((i) => [i, lock.images[i]!.amd64!.digest]));
    ok(await run(["unshare", "--net", bin, "verify", ...machineArgs()]));
    // A re-run changes nothing.
    const again = await run(["unshare", "--net", bin, "provision", ...machineArgs()]);
    ok(again);
    expect(events(again.stdout).find((e) => e.task === "images" && e.msg === "completed")).toBeUndefined();
    expect(readFileSync(join(machine().root, IMAGES_RECORD), "utf8")).toContain(sandbox);
  }, 300_000);

  test("provision without --offline pulls into its own cache what it lacks, and copies it in", async () => {
    const root = join(dir, "online");
    const seen = proxy.seen.length;
    ok(await run([
      bin, "provision", "--machine", `img2-${process.pid}`, "--machine-dir", join(root, "machine"), "--nspawn-config-file", join(root, "m.nspawn"),
      "--service-override-file", join(root, "o.conf"), "--hostname", "node2", "--arch", "arm64", "--cache-dir", join(root, "cache"),
      "--bootstrap-method", "none", "--skip-phases", "kube,cri,cni", "--images", app, "--runtime-sandbox-image", sandbox, "--log-format", "json",
    ]));
    expect(proxy.seen.length).toBeGreaterThan(seen);
    const lock = readLock(join(bundle, LOCK_FILE));
    expect(readImagesRecord(join(root, "machine"))!.map((e) => [e.image, e.digest])).toEqual([sandbox, app].map((i) => [i, lock.images[i]!.arm64!.digest]));
    expect(imagesLayout(join(root, "cache")).index().manifests.length).toBe(2);
  });

  test("the machine boots, imports the images into containerd once, a second boot does not import again, a changed set does", async () => {
    // The names imported, and the CRI plugin's own reference by image id (the config's digest): kubelet sees them too.
    const config = imagesLayout(bundle).readJSON<{ config: { digest: string } }>({ mediaType: "", ...readLock(join(bundle, LOCK_FILE)).images[sandbox]!.amd64! }).config.digest;
    const ctrImages = async (m: Booted) => (await m.exec(["/usr/local/bin/ctr", "-n", "k8s.io", "images", "ls", "-q"])).stdout.trim().split("\n").sort();
    const expected = [sandbox, app, config].sort();
    const unit = async (m: Booted) => (await m.exec(["systemctl", "show", "-p", "ActiveState", "-p", "Result", "-p", "ConditionResult", "kube-rootfs-images.service"])).stdout;

    const started = performance.now();
    let m = await boot(MACHINE, machine().root, machine());
    booted.push(m);
    expect(await m.settled()).toBe("running");
    expect(await unit(m)).toContain("ConditionResult=yes\n");
    expect(await unit(m)).toContain("Result=success\n");
    expect(await ctrImages(m)).toEqual(expected);
    // The sandbox image is unpacked: containerd can create pods from it without a registry.
    const journal = (await m.exec(["journalctl", "-u", "kube-rootfs-images.service", "--no-pager", "-o", "cat"])).stdout;
    expect(journal.match(/unpacking/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    expect(await m.poweroff()).toBe(0);
    booted.splice(booted.indexOf(m), 1);
    console.log(`first boot with import: ${((performance.now() - started) / 1000).toFixed(1)}s`);

    m = await boot(MACHINE, machine().root, machine());
    booted.push(m);
    expect(await m.settled()).toBe("running");
    expect(await unit(m)).toContain("ConditionResult=no\n");
    expect(await ctrImages(m)).toEqual(expected);
    expect(await m.poweroff()).toBe(0);
    booted.splice(booted.indexOf(m), 1);

    // A provision that changes the set (the app dropped): its archive goes, and the next boot imports again.
    ok(await run(["unshare", "--net", bin, "provision", ...machineArgs(), "--images", sandbox]));
    expect(readImagesRecord(machine().root)!.map((e) => e.image)).toEqual([sandbox]);
    m = await boot(MACHINE, machine().root, machine());
    booted.push(m);
    expect(await m.settled()).toBe("running");
    expect(await unit(m)).toContain("ConditionResult=yes\n");
    expect(await unit(m)).toContain("Result=success\n");
    expect((await m.exec(["ls", "/var/lib/kube-rootfs/images"])).stdout.trim().split("\n").filter((n) => n.endsWith(".tar"))).toEqual([readImagesRecord(machine().root)![0]!.archive]);
    expect(await m.poweroff()).toBe(0);
    booted.splice(booted.indexOf(m), 1);
  }, 300_000);
});
