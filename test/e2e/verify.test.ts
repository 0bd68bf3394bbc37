// verify with the compiled binary: modes and owners of installed and rendered files are checked,
// a bare `verify --machine-dir` uses the goal the last provision saved, and flags override it.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiledBinary, events, run, type RunResult } from "../helpers/binary";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { tempDir } from "../helpers/tmp";
import { sandboxRegistry } from "../helpers/sandbox-registry";

setDefaultTimeout(120_000);

let bin: string;
let served: Served;
let sandbox: string;
let dir: string;
const root = () => join(dir, "root");
const nspawn = () => join(dir, "host/vf.nspawn");

// Every flag here differs from its default: a verify that ignored the saved goal would drift.
const provisionArgs = () => [
  "provision", "--machine", `vf${process.pid}`, "--machine-dir", root(), "--cache-dir", join(dir, "cache"),
  "--bootstrap-method", "none", "--bootstrap-suite", "bookworm", "--nspawn-config-file", nspawn(),
  "--service-override-file", join(dir, "host/override.conf"), "--hostname", "vf-node", "--arch", "amd64",
  "--host-resolv-conf", join(dir, "resolv.conf"), "--host-devices", "", "--mirror", served.url, "--skip-phases", "cni",
  "--runtime-sandbox-image", sandbox,
];

const drifts = (r: RunResult) => events(r.stdout).filter((e) => e.msg === "drift").map((e) => e.fields!);
const verify = (...extra: string[]) => run([bin, "verify", "--machine-dir", root(), ...extra]);

async function expectClean(r: Promise<RunResult>) {
  const done = await r;
  expect({ code: done.code, stderr: done.stderr, drifts: drifts(done) }).toEqual({ code: 0, stderr: "", drifts: [] });
  return done;
}

beforeAll(async () => {
  bin = await compiledBinary();
  served = await serveDir((await testMirror()).dir);
  sandbox = (await sandboxRegistry()).image;
  dir = tempDir("vf-verify");
  writeFileSync(join(dir, "resolv.conf"), "nameserver 192.0.2.53\n");
  const first = await run([bin, ...provisionArgs()]);
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: "" });
});
afterAll(() => served?.stop());

test("provision saves the goal as given, without run-only options", () => {
  const saved = JSON.parse(readFileSync(join(root(), "var/lib/kube-rootfs/goal.json"), "utf8"));
  expect(saved.goal).toMatchObject({ hostname: "vf-node", bootstrap: { suite: "bookworm" }, mirror: served.url, skipPhases: ["cni"] });
  expect(saved.goal.hostModules).toBeUndefined();
  expect(Object.keys(saved.goal)).not.toContain("cacheDir");
  expect(statSync(join(root(), "var/lib/kube-rootfs/goal.json")).mode & 0o777).toBe(0o600);
});

test("a bare verify --machine-dir uses the saved goal and is clean", async () => {
  const r = await expectClean(verify());
  expect(events(r.stdout).at(-1)!.fields!.goal).toBe(join(root(), "var/lib/kube-rootfs/goal.json"));
});

test("a flag given to verify overrides the saved goal", async () => {
  const r = await verify("--hostname", "other-node");
  expect(r.code).toBe(3);
  expect(drifts(r).map((d) => d.path)).toEqual([join(root(), "etc/hostname")]);
  const skipNone = await verify("--skip-phases", "");
  expect(drifts(skipNone).find((d) => d.expected === "cni 1.5.1 (amd64) installed")).toBeDefined();
});

test("chmod and chown of an installed binary are drift (exit 3); provision puts them back", async () => {
  const kubelet = join(root(), "usr/local/bin/kubelet");
  chmodSync(kubelet, 0o644);
  const mode = await verify();
  expect(mode.code).toBe(3);
  expect(drifts(mode)).toEqual([{ path: kubelet, expected: "mode 0755", found: "mode 0644" }]);

  chmodSync(kubelet, 0o755);
  chownSync(kubelet, 1000, 1000);
  const owner = await verify();
  expect(owner.code).toBe(3);
  expect(drifts(owner)).toEqual([{ path: kubelet, expected: "owner 0:0", found: "owner 1000:1000" }]);

  chmodSync(kubelet, 0o700);
  expect(drifts(await verify()).map((d) => d.found)).toEqual(["mode 0700", "owner 1000:1000"]);
  const again = await run([bin, ...provisionArgs()]);
  expect(events(again.stdout).find((e) => e.task === "kube" && e.duration !== undefined)!.msg).toBe("completed");
  await expectClean(verify());
});

test("mode and owner of rendered files are drift; provision puts them back", async () => {
  const hostname = join(root(), "etc/hostname");
  const resolv = join(root(), "etc/resolv.conf");
  chmodSync(nspawn(), 0o600);
  chownSync(hostname, 1000, 0);
  chmodSync(resolv, 0o666);
  const r = await verify();
  expect(r.code).toBe(3);
  expect(drifts(r)).toEqual([
    { path: nspawn(), expected: "mode 0644", found: "mode 0600" },
    { path: hostname, expected: "owner 0:0", found: "owner 1000:0" },
    { path: resolv, expected: "mode 0644", found: "mode 0666" },
  ]);
  expect((await run([bin, ...provisionArgs()])).code).toBe(0);
  await expectClean(verify());
});

test("a saved goal that is not one is a usage error naming the file", async () => {
  const other = tempDir("vf-bad-goal");
  const file = join(other, "var/lib/kube-rootfs/goal.json");
  await Bun.write(file, "[]\n");
  const r = await run([bin, "verify", "--machine-dir", other]);
  expect(r.code).toBe(2);
  expect(r.stderr.trim()).toBe(`kube-rootfs: ${file}: not a saved goal (expected {"goal": {…}}); run provision again or remove it`);
});
