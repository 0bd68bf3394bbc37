// The fault suite's common shape: provision a throwaway machine with the compiled binary under
// a fault, assert how it failed and that nothing was left half-written, then run again without
// the fault and check it converges and verify is clean.
import { expect } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readManifest } from "../../src/artifacts/manifest";
import { compiledBinary, events, run, type RunResult } from "../helpers/binary";
import { removeDir, tempDir } from "../helpers/tmp";
import { serveDir, testMirror, type Served } from "../helpers/mirror";
import { sandboxImageArgs } from "../helpers/sandbox-registry";

export interface Machine {
  dir: string;
  root: string;
  cache: string;
  name: string;
}

let count = 0;
const machines: string[] = [];
export function newMachine(opts: { root?: string; cache?: string } = {}): Machine {
  const dir = tempDir("fault");
  machines.push(dir);
  return { dir, root: opts.root ?? join(dir, "root"), cache: opts.cache ?? join(dir, "cache"), name: `fault${process.pid}x${++count}` };
}

export const machineArgs = (m: Machine) => [
  "--machine", m.name, "--machine-dir", m.root, "--cache-dir", m.cache, "--bootstrap-method", "none",
  "--nspawn-config-file", join(m.dir, "host/m.nspawn"), "--service-override-file", join(m.dir, "host/override.conf"),
  "--hostname", "node1", "--arch", "amd64", "--log-format", "json",
];

/** The compiled binary's provision command line for `m` from `mirror` (the sandbox image from loopback). */
export const provisionArgv = async (m: Machine, mirror: string) => [await compiledBinary(), "provision", ...machineArgs(m), ...(await sandboxImageArgs()), "--mirror", mirror];

export async function provision(m: Machine, mirror: string, extra: string[] = []): Promise<RunResult> {
  return run([...(await provisionArgv(m, mirror)), "--retries", "2", "--timeouts-stall", "2", ...extra]);
}

export async function verify(m: Machine, mirror: string): Promise<RunResult> {
  return run([await compiledBinary(), "verify", ...machineArgs(m), ...(await sandboxImageArgs()), "--mirror", mirror]);
}

/** A clean loopback mirror, served until a test file's afterAll calls stopCleanMirror (bun runs
 * every file in one process, so the next file starts its own). */
let clean: Promise<Served> | undefined;
export const cleanMirror = async () => (clean ??= testMirror().then((info) => serveDir(info.dir, { timeoutMs: 600_000 })));
export async function stopCleanMirror() {
  const served = clean;
  clean = undefined;
  (await served)?.stop();
}

/** Temp and partial files anywhere below dir. */
export function leftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((p) => /\.kube-rootfs-\d+-\w+\.tmp$|\.part-\d+$|\.staging/.test(p));
}

/** Exit 1, exactly one error line matching, a log that ends saying so, no temp files, and `artifact` not installed. */
export function expectCleanFailure(r: RunResult, m: Machine, line: RegExp, artifact?: string) {
  const lines = r.stderr.trim().split("\n").filter(Boolean);
  expect({ code: r.code, lines }).toMatchObject({ code: 1, lines: [expect.stringMatching(line)] });
  expect(events(r.stdout).at(-1)).toMatchObject({ level: "error", msg: "done", fields: { outcome: "failed", exitCode: 1 } });
  expect(leftovers(m.root)).toEqual([]);
  expect(leftovers(m.cache)).toEqual([]);
  if (artifact) expect(readManifest(m.root)[artifact as "runc"]).toBeUndefined();
}

/** A run without the fault succeeds and verify finds no drift. */
export async function expectConverges(m: Machine) {
  const { url } = await cleanMirror();
  const again = await provision(m, url);
  expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: "" });
  const v = await verify(m, url);
  expect({ code: v.code, stderr: v.stderr }).toEqual({ code: 0, stderr: "" });
  expect(Object.keys(readManifest(m.root))).toHaveLength(7);
}

/** Each machine holds a rootfs of ~200 MB: fault files drop theirs after every test. */
export function dropMachines() {
  machines.splice(0).forEach(removeDir);
}
