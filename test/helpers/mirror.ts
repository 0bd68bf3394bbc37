// A small upstream-layout mirror for tests, built once per test process (per option set)
// into a temp dir that is removed when the run is over, and served on 127.0.0.1.
import { buildMirror, type MirrorArtifact, type MirrorAsset, type MirrorInfo, type MirrorOptions } from "../../scripts/mirror";

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

/** The asset of an artifact for an arch (for kubernetes, name the binary). */
export function assetOf(info: MirrorInfo, artifact: MirrorArtifact, arch: MirrorAsset["arch"], binary?: string): MirrorAsset {
  const a = info.assets.find((x) => x.artifact === artifact && x.arch === arch && (!binary || x.binary === binary));
  if (!a) throw new Error(`test mirror has no ${artifact}${binary ? `/${binary}` : ""} for ${arch}`);
  return a;
}
