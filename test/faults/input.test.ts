// Bad input of every kind exits 2 with one line naming the field and its source, before
// anything is written.
import { afterAll, beforeAll, expect } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, run } from "../helpers/binary";
import { faultTest } from "./fault-test";

let bin: string;
let dir: string;
beforeAll(async () => {
  bin = await compiledBinary();
  dir = mkdtempSync(join(tmpdir(), "kube-rootfs-input-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let calls = 0;

/** A provision that would write into dir/out, with the given extra arguments and env. */
async function provision(extra: string[], env: Record<string, string> = {}, machineDirFlag = true) {
  const out = join(dir, `out-${++calls}`);
  const r = await run(
    [bin, "provision", ...(machineDirFlag ? ["--machine-dir", join(out, "root")] : []), "--nspawn-config-file", join(out, "n.nspawn"),
      "--service-override-file", join(out, "o.conf"), "--bootstrap-method", "none", "--skip-phases", "kube,cri,cni", ...extra],
    env,
  );
  return { ...r, touched: existsSync(out) ? readdirSync(out) : [] };
}

function expectRefused(r: { code: number; stderr: string; stdout: string; touched: string[] }, line: string | RegExp) {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  if (typeof line === "string") expect(lines[0]).toBe(`kube-rootfs: ${line}`);
  else expect(lines[0]).toMatch(line);
  expect(r.touched).toEqual([]);
}

const config = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

faultTest("input-type", async () => {
  const f = config("type.yaml", "machine: kube1\nmachineDir: 42\n");
  // no --machine-dir flag here: it would take precedence over the file's bad value
  expectRefused(await provision(["--config", f], {}, false), `${f}:2: machineDir: expected string, got number`);
  const j = config("type.json", '{"retries": "many"}');
  expectRefused(await provision(["--config", j]), `${j}: retries: expected number, got "many"`);
});

faultTest("input-unknown", async () => {
  const f = config("unknown.yaml", "bootstrap:\n  sute: noble\n");
  expectRefused(await provision(["--config", f]), `${f}:2: bootstrap.sute: unknown field`);
});

faultTest("input-enum", async () => {
  expectRefused(await provision(["--arch", "sparc"]), "--arch: expected amd64|arm64|x86_64|aarch64, got sparc");
  expectRefused(await provision([], { KUBE_ROOTFS_LOG_FORMAT: "xml" }), "KUBE_ROOTFS_LOG_FORMAT: expected pretty|json, got xml");
});

faultTest("input-url", async () => {
  expectRefused(await provision(["--mirror", "ftp://mirror.invalid/k8s"]), '--mirror: expected a http/https/file URL, got "ftp://mirror.invalid/k8s"');
  expectRefused(await provision([], { KUBE_ROOTFS_MIRROR: "not a url" }), 'KUBE_ROOTFS_MIRROR: expected a http/https/file URL, got "not a url"');
});

faultTest("input-version", async () => {
  expectRefused(await provision(["--kubernetes-version", "1.x"]), '--kubernetes-version: expected a version like 1.33.1, got "1.x"');
});

faultTest("input-sha256", async () => {
  const f = config("sha.yaml", `downloads:\n  runc:\n    sha256: ${"ab".repeat(31)}\n`);
  expectRefused(await provision(["--config", f]), new RegExp(`^kube-rootfs: ${f}:3: downloads\\.runc\\.sha256: expected 64 hex digits`));
});

faultTest("input-flag", async () => {
  expectRefused(await provision(["--kubernetes-versoin", "1.33.1"]), "--kubernetes-versoin: unknown flag, did you mean --kubernetes-version? (see --help)");
  expectRefused(await provision(["--skip-phases", "kube,crii"]), /^kube-rootfs: --skip-phases: unknown crii \(known: /);
});

faultTest("input-yaml", async () => {
  const f = config("broken.yaml", "machine: [unclosed\n");
  expectRefused(await provision(["--config", f]), new RegExp(`^kube-rootfs: ${f}:1:10: not valid YAML`));
  expectRefused(await provision(["--config", join(dir, "nope.yaml")]), `${join(dir, "nope.yaml")}: cannot read config: ENOENT`);
});

faultTest("fs-etc-symlink", async () => {
  const evil = join(dir, "evil");
  mkdirSync(evil);
  symlinkSync("/etc", join(evil, "etc"));
  const hostname = readFileSync("/etc/hostname", "utf8");
  const r = await run([bin, "provision", "--machine-dir", evil, "--nspawn-config-file", join(dir, "e.nspawn"), "--service-override-file", join(dir, "e.conf"),
    "--bootstrap-method", "none", "--skip-phases", "kube,cri,cni", "--hostname", "intruder"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("leads out of the rootfs");
  expect(readFileSync("/etc/hostname", "utf8")).toBe(hostname);
  expect(existsSync("/etc/tmpfiles.d/kmsg.conf") && readFileSync("/etc/tmpfiles.d/kmsg.conf", "utf8").includes("kube-rootfs")).toBe(false);
});
