// Air-gapped installs end to end with the compiled binary: fetch a two-arch bundle with the
// rootfs snapshot from loopback mirrors, check it (and catch one flipped byte), provision from
// it inside a network namespace with no interfaces, and serve it as a mirror with stock nginx
// and as a file:// URL. Needs root, mmdebstrap, nginx, unshare and the host's Debian mirror.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readManifest } from "../../src/artifacts/manifest";
import { LOCK_FILE, readLock } from "../../src/bundle/lock";
import { hostDebianMirror } from "../helpers/apt";
import { compiledBinary, events, run, type RunResult } from "../helpers/binary";
import { removeDir, tempDir } from "../helpers/tmp";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { startNginx, type Nginx } from "../helpers/nginx";
import { sandboxRegistry } from "../helpers/sandbox-registry";
import { keepSnapshots, lendSnapshots } from "../helpers/shared-snapshots";

let bin: string;
let dir: string;
let bundle: string;
let apt: { mirror: string; suite: string };
let upstream: Served;
let nginx: Nginx | undefined;
let sandbox: string;

beforeAll(async () => {
  bin = await compiledBinary();
  apt = hostDebianMirror();
  dir = tempDir("airgap");
  bundle = join(dir, "bundle");
  upstream = await serveDir((await testMirror({ arch: ["amd64", "arm64"] })).dir, { timeoutMs: 900_000 });
  sandbox = (await sandboxRegistry()).image;
}, 120_000);

afterAll(() => {
  upstream?.stop();
  nginx?.stop();
  removeDir(dir); // several rootfs trees: slow on a busy machine
}, 120_000);

// A lean package set: the arm64 rootfs is bootstrapped under qemu-user emulation.
const bootstrap = () => ["--bootstrap-tool", "mmdebstrap", "--bootstrap-suite", apt.suite, "--bootstrap-mirror", apt.mirror, "--bootstrap-include", "systemd,systemd-sysv,dbus"];

function machine(name: string, extra: string[]) {
  return [
    "--machine", `${name}-${process.pid}`, "--machine-dir", join(dir, name, "root"), "--nspawn-config-file", join(dir, name, "m.nspawn"),
    "--service-override-file", join(dir, name, "override.conf"), "--hostname", "node1", "--arch", "amd64", "--runtime-sandbox-image", sandbox,
    "--log-format", "json", ...extra,
  ];
}

const ok = (r: RunResult) => expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });

/** Every installed file's sha256, by path: what two provisions must agree on. */
const installed = (name: string) =>
  Object.fromEntries(Object.values(readManifest(join(dir, name, "root"))).flatMap((a) => a!.files.map((f) => [f.path, f.sha256])));

describe("air-gapped workflow", () => {
  test("fetch --dry-run lists every URL for every arch and creates nothing", async () => {
    const r = await run([bin, "fetch", "--dry-run", "--bundle", bundle, "--arch", "amd64,arm64", "--mirror", upstream.url, "--log-format", "json"]);
    ok(r);
    const planned = events(r.stdout).filter((e) => e.msg === "would fetch");
    expect(planned).toHaveLength(14);
    expect(planned.map((e) => e.fields!.url)).toContain(`${upstream.url}/runc/v1.1.12/runc.arm64`);
    expect(upstream.requests).toHaveLength(0);
    expect(() => readFileSync(join(bundle, LOCK_FILE))).toThrow();
  });

  test("fetch --arch amd64,arm64 --with-rootfs fills the bundle and writes the lock", async () => {
    lendSnapshots(bundle);
    const r = await run([bin, "fetch", "--bundle", bundle, "--arch", "amd64,arm64", "--with-rootfs", "--mirror", upstream.url, "--runtime-sandbox-image", sandbox, "--log-format", "json", ...bootstrap()]);
    ok(r);
    keepSnapshots(bundle);
    const lock = readLock(join(bundle, LOCK_FILE));
    expect(Object.keys(lock.artifacts).sort()).toEqual(["cni", "containerd", "crictl", "kubeProxy", "kubectl", "kubelet", "runc"]);
    for (const byArch of Object.values(lock.artifacts)) expect(Object.keys(byArch!).sort()).toEqual(["amd64", "arm64"]);
    for (const arch of ["amd64", "arm64"] as const) expect(lock.rootfs[arch]).toMatchObject({ suite: apt.suite, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // No --images: the sandbox image all the same, for both arches; no pod starts without it.
    expect(Object.keys(lock.images)).toEqual([sandbox]);
    expect(Object.keys(lock.images[sandbox]!).sort()).toEqual(["amd64", "arm64"]);
    // Stable: sorted keys, so the same bundle always gives the same bytes.
    const text = readFileSync(join(bundle, LOCK_FILE), "utf8");
    expect(text.indexOf('"artifacts"')).toBeLessThan(text.indexOf('"rootfs"'));

    // Idempotent: a second fetch downloads nothing and leaves the lock as it was.
    const requests = upstream.requests.length;
    ok(await run([bin, "fetch", "--bundle", bundle, "--arch", "amd64,arm64", "--with-rootfs", "--mirror", upstream.url, "--runtime-sandbox-image", sandbox, "--log-format", "json", ...bootstrap()]));
    expect(upstream.requests.length).toBe(requests);
    expect(readFileSync(join(bundle, LOCK_FILE), "utf8")).toBe(text);
  }, 600_000);

  test("fetch --check passes, and catches one flipped byte naming the file and both hashes", async () => {
    const good = await run([bin, "fetch", "--check", "--bundle", bundle]);
    expect(good.code).toBe(0);
    const lock = readLock(join(bundle, LOCK_FILE));
    const victim = join(bundle, lock.artifacts.runc!.amd64!.path);
    const original = readFileSync(victim);
    const flipped = Buffer.from(original);
    flipped[1000] = flipped[1000]! ^ 0x01;
    writeFileSync(victim, flipped);
    try {
      const bad = await run([bin, "fetch", "--check", "--bundle", bundle]);
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim().split("\n")).toEqual([
        `kube-rootfs: runc 1.1.12 amd64: ${lock.artifacts.runc!.amd64!.path} has sha256 ${new Bun.CryptoHasher("sha256").update(flipped).digest("hex")}, the lock says ${lock.artifacts.runc!.amd64!.sha256}`,
      ]);
    } finally {
      writeFileSync(victim, original);
    }
  });

  test("provision online, then --offline from the bundle inside unshare --net: same result", async () => {
    ok(await run([bin, "provision", ...machine("online", ["--cache-dir", join(dir, "online-cache"), "--mirror", upstream.url, ...bootstrap()])]));
    const offline = await run(["unshare", "--net", bin, "provision", ...machine("offline", ["--offline", "--cache-dir", bundle, "--lock", join(bundle, LOCK_FILE), ...bootstrap()])]);
    ok(offline);
    expect(offline.stdout).toContain('"restored from snapshot"');
    expect(installed("offline")).toEqual(installed("online"));
    ok(await run(["unshare", "--net", bin, "verify", ...machine("offline", ["--offline", "--cache-dir", bundle, ...bootstrap()])]));
  }, 600_000);

  test("--offline with a bundle that lacks things lists every missing item at once, before touching the rootfs", async () => {
    const r = await run(["unshare", "--net", bin, "provision", ...machine("missing", ["--offline", "--cache-dir", bundle, "--kubernetes-version", "1.34.0", "--bootstrap-suite", "trixie"])]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    for (const item of ["kubelet 1.34.0 amd64", "kubectl 1.34.0 amd64", "kubeProxy 1.34.0 amd64", "crictl 1.34.0 amd64", "rootfs snapshot for trixie/amd64"]) expect(lines[0]).toContain(item);
    expect(() => readFileSync(join(dir, "missing", "m.nspawn"))).toThrow();
  });

  test("a lock that disagrees with the bundle: error naming both hashes, nothing installed", async () => {
    const lockPath = join(dir, "tampered.lock");
    const lock = readLock(join(bundle, LOCK_FILE));
    const real = lock.artifacts.containerd!.amd64!.sha256;
    lock.artifacts.containerd!.amd64!.sha256 = "0".repeat(64);
    writeFileSync(lockPath, JSON.stringify(lock));
    const r = await run([bin, "provision", ...machine("tampered", ["--offline", "--cache-dir", bundle, "--lock", lockPath, "--bootstrap-method", "none"])]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`containerd: `);
    expect(r.stderr).toContain("0".repeat(64));
    expect(r.stderr).toContain(real);
    expect(readManifest(join(dir, "tampered", "root")).containerd).toBeUndefined();
    // The bundle keeps its good file: a wrong lock must not cost it.
    expect((await run([bin, "fetch", "--check", "--bundle", bundle])).code).toBe(0);
  });

  test("a lock at another version is a usage error (exit 2)", async () => {
    const r = await run([bin, "provision", ...machine("version", ["--cache-dir", bundle, "--lock", join(bundle, LOCK_FILE), "--containerd-version", "2.1.0", "--bootstrap-method", "none"])]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`kube-rootfs: lock ${join(bundle, LOCK_FILE)}: containerd amd64 is 2.0.4, the goal asks for 2.1.0`);
  });

  test("the bundle served by stock nginx is a mirror", async () => {
    // nginx's workers drop root; a bundle is world-readable, and so must the test's temp dir be.
    chmodSync(dir, 0o755);
    nginx = await startNginx(bundle);
    const r = await run([bin, "provision", ...machine("nginx", ["--cache-dir", join(dir, "nginx-cache"), "--mirror", nginx.url, "--bootstrap-method", "none"])]);
    ok(r);
    expect(installed("nginx")).toEqual(installed("online"));
  });

  test("the bundle as a file:// mirror, without a server", async () => {
    ok(await run([bin, "provision", ...machine("file", ["--cache-dir", join(dir, "file-cache"), "--mirror", `file://${bundle}`, "--bootstrap-method", "none"])]));
    expect(installed("file")).toEqual(installed("online"));
  });
});

