// examples/cloud-init.yaml's install script, run for real with bash: it downloads the compiled
// executable from a loopback "release", checks the pinned sha256, installs it and provisions from
// the loopback artifact mirror. Only systemctl stands in: this host's PID 1 is not systemd, so a
// recorder on PATH notes what the script asks of it.
import { beforeAll, afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readManifest } from "../../src/artifacts/manifest";
import { sha256File } from "../../src/fs/hash";
import { compiledBinary, run } from "../helpers/binary";
import { cloudInitExample, withVariables } from "../helpers/cloud-init";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { tempDir } from "../helpers/tmp";
import { sandboxRegistry } from "../helpers/sandbox-registry";

setDefaultTimeout(120_000);

const example = cloudInitExample();
const target = process.arch === "arm64" ? "linux-arm64" : "linux-x64";
let release: Served;
let mirror: Served;
let sha256: string;

beforeAll(async () => {
  const releaseDir = tempDir("vf-release");
  copyFileSync(await compiledBinary(), join(releaseDir, `kube-rootfs-${target}`));
  sha256 = await sha256File(join(releaseDir, `kube-rootfs-${target}`));
  [release, mirror] = await Promise.all([serveDir(releaseDir), testMirror().then((m) => serveDir(m.dir))]);
});
afterAll(() => {
  release?.stop();
  mirror?.stop();
});

/** Run the script as runcmd would, with its top variables pointed into a temp dir. */
async function runScript(opts: { mirror: string; sha256?: string }) {
  const dir = tempDir("vf-cloud-init");
  const node = Bun.YAML.parse(example.nodeYaml) as { bootstrap?: Record<string, unknown>; runtime?: Record<string, unknown> };
  const sandboxImage = (await sandboxRegistry()).image;
  const config = join(dir, "node.json");
  writeFileSync(join(dir, "resolv.conf"), "nameserver 192.0.2.53\n");
  writeFileSync(
    config,
    JSON.stringify({
      ...node, machineDir: join(dir, "root"), cacheDir: join(dir, "cache"), bootstrap: { ...node.bootstrap, method: "none" },
      nspawnConfigFile: join(dir, "host/m.nspawn"), serviceOverrideFile: join(dir, "host/override.conf"),
      hostname: "vf-node", hostResolvConf: join(dir, "resolv.conf"), mirror: opts.mirror, runtime: { ...node.runtime, sandboxImage },
    }),
  );
  const machine = `vfci${process.pid}x${Math.random().toString(36).slice(2, 6)}`;
  const script = withVariables(example.script, {
    RELEASE: release.url, [`SHA256_${target.toUpperCase().replace("-", "_")}`]: opts.sha256 ?? sha256,
    MACHINE: machine, CONFIG: config, BIN: join(dir, "bin/kube-rootfs"), LOG: join(dir, "kube-rootfs.log"),
  });
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "shim"));
  writeFileSync(join(dir, "shim/systemctl"), `#!/bin/sh\necho "$*" >> '${join(dir, "systemctl.calls")}'\n`, { mode: 0o755 });
  writeFileSync(join(dir, "install.sh"), script);
  const r = await run(["bash", join(dir, "install.sh")], { PATH: `${join(dir, "shim")}:${process.env.PATH}` });
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : "");
  return { ...r, dir, machine, log: read("kube-rootfs.log"), systemctl: read("systemctl.calls"), bin: join(dir, "bin/kube-rootfs") };
}

test("installs the pinned executable, provisions with the log in both places, then enables the machine", async () => {
  const r = await runScript({ mirror: mirror.url });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(statSync(r.bin).mode & 0o777).toBe(0o755);
  expect(Object.keys(readManifest(join(r.dir, "root")))).toHaveLength(7);
  const last = JSON.parse(r.log.trim().split("\n").at(-1)!);
  expect(last).toMatchObject({ msg: "done", fields: { outcome: "changed", exitCode: 0 } });
  // What cloud-init-output.log gets (the script's stdout) holds the same lines as the log file.
  expect(r.stdout).toBe(r.log);
  expect(r.systemctl).toBe(`daemon-reload\nenable --now systemd-nspawn@${r.machine}.service\n`);
});

test("a failing provision fails the script, is logged in both places, and never enables the machine", async () => {
  const r = await runScript({ mirror: `${mirror.url}/missing` });
  expect(r.code).toBe(1);
  const errors = r.log.split("\n").filter((l) => l.includes('"level":"error"'));
  expect(errors.length).toBeGreaterThan(0);
  expect(r.stdout).toContain(errors[0]!);
  expect(r.systemctl).toBe("");
});

test("an executable that does not match the pinned sha256 is never installed or run", async () => {
  const r = await runScript({ mirror: mirror.url, sha256: "0".repeat(64) });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`kube-rootfs: ${release.url}/kube-rootfs-${target} does not match the pinned sha256 ${"0".repeat(64)}\n`);
  expect(existsSync(r.bin)).toBe(false);
  expect(r.log).toBe("");
  expect(r.systemctl).toBe("");
});
