// One x64 host makes the rootfs of both arches: `fetch --with-rootfs --arch amd64,arm64`
// bootstraps arm64 with mmdebstrap under qemu-user (binfmt_misc, set up by scripts/setup.sh),
// and the arm64 tree runs through systemd-nspawn. Needs root, mmdebstrap, qemu-user-static with
// its binfmt handler, systemd-container and the host's Debian mirror.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { LOCK_FILE, readLock } from "../../src/bundle/lock";
import { hostDebianMirror } from "../helpers/apt";
import { compiledBinary, events, run, type RunResult } from "../helpers/binary";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { removeDir, tempDir } from "../helpers/tmp";

// Small on purpose: arm64 maintainer scripts run under emulation. Enough for a boot.
const INCLUDE = "systemd,systemd-sysv,dbus";

let bin: string;
let dir: string;
let bundle: string;
let apt: { mirror: string; suite: string };
let artifacts: Served;

beforeAll(async () => {
  bin = await compiledBinary();
  apt = hostDebianMirror();
  dir = tempDir("xa-image");
  bundle = join(dir, "bundle");
  artifacts = await serveDir((await testMirror({ arch: ["amd64", "arm64"] })).dir);
}, 120_000);

afterAll(() => {
  artifacts?.stop();
  removeDir(dir);
});

const ok = (r: RunResult) => expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
const bootstrap = () => ["--bootstrap-method", "mmdebstrap", "--bootstrap-suite", apt.suite, "--bootstrap-mirror", apt.mirror, "--bootstrap-include", INCLUDE];

/** Run argv in the tree with systemd-nspawn (no boot, no host systemd needed). */
async function inside(root: string, argv: string[]): Promise<RunResult> {
  return run(["systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "-D", root, ...argv]);
}

describe("cross-arch on one x64 host", () => {
  test("doctor --arch arm64: the binfmt handler is there", async () => {
    const r = await run([bin, "doctor", "--arch", "arm64", "--log-format", "json", ...bootstrap()]);
    const arch = events(r.stdout).find((e) => e.fields?.check === "arch");
    expect(arch).toMatchObject({ msg: "arch: arm64 on an amd64 host, through the qemu-aarch64 binfmt handler", fields: { status: "ok" } });
  });

  test("fetch --with-rootfs --arch amd64,arm64 keeps a snapshot of each", async () => {
    const started = performance.now();
    const r = await run([bin, "fetch", "--bundle", bundle, "--arch", "amd64,arm64", "--with-rootfs", "--mirror", artifacts.url, "--log-format", "json", ...bootstrap()]);
    ok(r);
    console.log(`fetch --with-rootfs amd64,arm64: ${((performance.now() - started) / 1000).toFixed(1)}s`);
    const lock = readLock(join(bundle, LOCK_FILE));
    expect(Object.keys(lock.rootfs).sort()).toEqual(["amd64", "arm64"]);
    expect(events(r.stdout).filter((e) => e.msg === "snapshot kept")).toHaveLength(2);
  }, 900_000);

  test("the arm64 rootfs runs /bin/true and says aarch64 through systemd-nspawn", async () => {
    const root = join(dir, "arm64-root");
    const restore = await run([
      bin, "provision", "--machine", `xa-arm-${process.pid}`, "--machine-dir", root, "--nspawn-config-file", join(dir, "arm.nspawn"),
      "--service-override-file", join(dir, "arm.override.conf"), "--arch", "arm64", "--cache-dir", bundle, "--offline",
      "--skip-phases", "install", "--log-format", "json", ...bootstrap(),
    ]);
    ok(restore);
    expect(restore.stdout).toContain('"restored from snapshot"');
    ok(await inside(root, ["/bin/true"]));
    const uname = await inside(root, ["uname", "-m"]);
    expect(uname.stdout.trim()).toBe("aarch64");
    expect((await inside(root, ["dpkg", "--print-architecture"])).stdout.trim()).toBe("arm64");
  }, 120_000);
});
