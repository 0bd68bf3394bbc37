// A small upstream-layout mirror for tests, built once per test process (per option set)
// into a temp dir that is removed when the process exits, and served on 127.0.0.1.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildMirror, type MirrorArtifact, type MirrorAsset, type MirrorInfo, type MirrorOptions } from "../../scripts/mirror";

export {
  serveDir, status, resetMidBody, shortBody, stall, endless, wrongBytes, garbage, redirect, redirectLoop, trickle, noRange,
  type Served, type ServeOptions, type FaultSpec, type Fault, type RequestRecord,
} from "./fault-server";

/** Versions and arches; `out` is chosen here and `realistic` (~600 MB) is not for tests. */
export type TestMirrorOptions = Omit<MirrorOptions, "out" | "realistic">;

const built = new Map<string, Promise<MirrorInfo>>();
const dirs: string[] = [];
process.on("exit", () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function testMirror(opts: TestMirrorOptions = {}): Promise<MirrorInfo> {
  const key = JSON.stringify(opts, Object.keys(opts).sort());
  let info = built.get(key);
  if (!info) {
    const out = mkdtempSync(join(tmpdir(), "kube-rootfs-test-mirror-"));
    dirs.push(out);
    info = buildMirror({ ...opts, out, realistic: false });
    built.set(key, info);
  }
  return info;
}

/** The asset of an artifact for an arch (for kubernetes, name the binary). */
export function assetOf(info: MirrorInfo, artifact: MirrorArtifact, arch: MirrorAsset["arch"], binary?: string): MirrorAsset {
  const a = info.assets.find((x) => x.artifact === artifact && x.arch === arch && (!binary || x.binary === binary));
  if (!a) throw new Error(`test mirror has no ${artifact}${binary ? `/${binary}` : ""} for ${arch}`);
  return a;
}
