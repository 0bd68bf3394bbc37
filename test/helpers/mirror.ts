// A small upstream-layout mirror for tests, built once per test process (per option set)
// into a temp dir that is removed when the run is over, and served on 127.0.0.1.
import { existsSync, linkSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { buildMirror, STAMP, type MirrorArtifact, type MirrorAsset, type MirrorInfo, type MirrorOptions } from "../../scripts/mirror";

export {
  serveDir, status, resetMidBody, shortBody, stall, endless, wrongBytes, garbage, redirect, redirectLoop, trickle, noRange,
  type Served, type ServeOptions, type FaultSpec, type Fault, type RequestRecord,
} from "./fault-server";
import { tempDir } from "./tmp";

/** Versions and arches; `out` is chosen here and `realistic` (~600 MB) is not for tests. */
export type TestMirrorOptions = Omit<MirrorOptions, "out" | "realistic">;

const built = new Map<string, Promise<MirrorInfo>>();

export function testMirror(opts: TestMirrorOptions = {}): Promise<MirrorInfo> {
  const key = JSON.stringify(opts, Object.keys(opts).sort());
  let info = built.get(key);
  if (!info) {
    const out = tempDir("test-mirror");
    info = buildMirror({ ...opts, out, realistic: false });
    built.set(key, info);
  }
  return info;
}

/**
 * One mirror that serves what several test mirrors do (other Kubernetes versions with their
 * crictl, another containerd): each option set's mirror hard-linked into one tree. The upstream
 * layout keeps versions apart by path; what the sets share is built byte for byte alike, so the
 * first copy linked stands for all.
 */
export async function combinedTestMirror(sets: TestMirrorOptions[]): Promise<{ dir: string; mirrors: MirrorInfo[] }> {
  const mirrors = await Promise.all(sets.map((opts) => testMirror(opts)));
  const dir = tempDir("test-mirrors");
  for (const m of mirrors) linkTree(m.dir, dir);
  return { dir, mirrors };
}

/** Hard-link every file under `from` into `to`, keeping what `to` has; each mirror's stamp stays its own. */
function linkTree(from: string, to: string) {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.name === STAMP) continue;
    if (e.isDirectory()) linkTree(join(from, e.name), join(to, e.name));
    else if (!existsSync(join(to, e.name))) linkSync(join(from, e.name), join(to, e.name));
  }
}

/** The asset of an artifact for an arch (for kubernetes, name the binary). */
export function assetOf(info: MirrorInfo, artifact: MirrorArtifact, arch: MirrorAsset["arch"], binary?: string): MirrorAsset {
  const a = info.assets.find((x) => x.artifact === artifact && x.arch === arch && (!binary || x.binary === binary));
  if (!a) throw new Error(`test mirror has no ${artifact}${binary ? `/${binary}` : ""} for ${arch}`);
  return a;
}
