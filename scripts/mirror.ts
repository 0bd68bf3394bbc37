// Build a local mirror in exact upstream layout (the same layout as a kube-rootfs cache dir):
//   kubernetes/v{k8s}/bin/linux/{arch}/{kubelet,kubectl,kube-proxy}[.sha256]
//   crictl/v{v}/crictl-v{v}-linux-{arch}.tar.gz[.sha256]
//   containerd/v{v}/containerd-{v}-linux-{arch}.tar.gz[.sha256sum]
//   runc/v{v}/runc.{arch} + runc/v{v}/runc.sha256sum
//   cni/v{v}/cni-plugins-linux-{arch}-v{v}.tgz[.sha256]
// containerd, runc and the CNI plugins are this host's real binaries (Debian's containerd, runc
// and containernetworking-plugins packages) for the host's arch; for the other arch they are
// small arch-tagged stand-in scripts, so the two arches never share a hash and an arch mix-up
// cannot pass verification. Kube binaries and crictl are always stand-ins that print their
// version; --realistic pads them to upstream sizes with incompressible bytes.
// Usage: bun scripts/mirror.ts --out DIR [--kubernetes 1.33.1] [--containerd 2.0.4] [--runc 1.1.12]
//        [--cni 1.5.1] [--crictl 1.33.0] [--arch amd64,arm64] [--realistic]
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { create } from "tar";
import { sha256File } from "../src/fs/hash";
import { kubeletStandInScript } from "./kubelet-standin";

export type Arch = "amd64" | "arm64";
export type MirrorArtifact = "kubernetes" | "crictl" | "containerd" | "runc" | "cni";

export interface MirrorVersions {
  kubernetes: string;
  crictl: string;
  containerd: string;
  runc: string;
  cni: string;
}

export interface MirrorOptions extends Partial<MirrorVersions> {
  out: string;
  arch?: Arch[];
  /** Pad kube binaries and crictl to upstream sizes (~300 MB for both arches). */
  realistic?: boolean;
  /** Where the host arch's containerd binaries come from (default Debian's, /usr/bin). */
  containerdDir?: string;
}

export interface ArchiveEntry {
  /** As stored in the archive: `bin/`, `bin/ctr`, `./`, `./bridge`, `crictl`. */
  path: string;
  type: "dir" | "file";
  mode: number;
  size: number;
  /** Files only. */
  sha256?: string;
}

export interface MirrorAsset {
  artifact: MirrorArtifact;
  arch: Arch;
  version: string;
  /** Kube binary name for kubernetes assets, else the artifact name. */
  binary: string;
  /** Relative to the mirror dir, e.g. `runc/v1.1.12/runc.amd64`. */
  path: string;
  /** Relative path of the checksum file that covers this asset. */
  checksumPath: string;
  sha256: string;
  size: number;
  /** Archives only, in archive order. */
  entries?: ArchiveEntry[];
}

export interface MirrorInfo {
  dir: string;
  versions: MirrorVersions;
  arch: Arch[];
  realistic: boolean;
  assets: MirrorAsset[];
}

export const DEFAULT_VERSIONS = { kubernetes: "1.33.1", containerd: "2.0.4", runc: "1.1.12", cni: "1.5.1" } as const;
export const STAMP = ".mirror.json";

const MiB = 1024 * 1024;
/** Upstream sizes the realistic stand-ins are padded to (crictl: the whole tarball). */
const REALISTIC_SIZE: Record<string, number> = { kubelet: 105 * MiB, kubectl: 44 * MiB, "kube-proxy": 42 * MiB, crictl: 27 * MiB };
const KUBE_BINARIES = ["kubelet", "kubectl", "kube-proxy"] as const;
const CONTAINERD_BINARIES = ["containerd", "containerd-shim-runc-v2", "ctr"] as const;
const HOST_BIN = { containerd: "/usr/bin", runc: "/usr/sbin/runc", cni: "/usr/lib/cni" };
/** runc publishes one sha256sum file for all its assets; this extra line makes a parser pick the right one. */
const RUNC_EXTRA_ASSET = "runc.armel";
/** Fixed mtime for every archive entry, so the archives (and their checksums) are reproducible. */
const EPOCH = new Date(0);

const hostArch = (): Arch => (process.arch === "arm64" ? "arm64" : "amd64");

export function resolveVersions(opts: Partial<MirrorVersions>): MirrorVersions {
  const kubernetes = opts.kubernetes ?? DEFAULT_VERSIONS.kubernetes;
  const [major, minor] = kubernetes.split(".");
  return {
    kubernetes,
    crictl: opts.crictl ?? `${major}.${minor}.0`,
    containerd: opts.containerd ?? DEFAULT_VERSIONS.containerd,
    runc: opts.runc ?? DEFAULT_VERSIONS.runc,
    cni: opts.cni ?? DEFAULT_VERSIONS.cni,
  };
}

// ---------- file sources: a real host binary, or a stand-in script ----------

/** What goes into one asset or archive entry. */
type Source = { kind: "host"; path: string } | { kind: "standin"; script: string; padTo: number; seed: string };

function standIn(name: string, arch: string, versionLines: string, padTo = 0): Source {
  const script = [
    "#!/bin/sh",
    `# kube-rootfs mirror stand-in for ${name} (linux/${arch}); not the real program.`,
    versionLines,
    "exit 0",
    "",
  ].join("\n");
  return { kind: "standin", script, padTo, seed: `${name}/${arch}` };
}

/**
 * kubelet is held to the real one's start-up checks (scripts/kubelet-standin.ts); kube-proxy
 * answers --version, kubectl `version --client`, like upstream.
 */
function kubeStandIn(binary: string, version: string, arch: Arch, realistic: boolean): Source {
  const padTo = realistic ? REALISTIC_SIZE[binary] : 0;
  if (binary === "kubelet") return { kind: "standin", script: kubeletStandInScript(version, arch), padTo: padTo ?? 0, seed: `${binary}/${arch}` };
  const lines = [
    'case "$1" in',
    `  --version) echo "Kubernetes v${version}" ;;`,
    `  version) echo "Client Version: v${version}" ;;`,
    `  *) echo "${binary} stand-in v${version} linux/${arch}" ;;`,
    "esac",
  ].join("\n");
  return standIn(binary, arch, lines, padTo);
}

function crictlStandIn(version: string, arch: Arch, realistic: boolean): Source {
  const lines = `[ "$1" = --version ] && echo "crictl version v${version}" || echo "crictl stand-in v${version} linux/${arch}"`;
  return standIn("crictl", arch, lines, realistic ? REALISTIC_SIZE.crictl! : 0);
}

/** The host's binary for its own arch; a version-printing stand-in for the other. */
function hostOrStandIn(hostPath: string, name: string, version: string, arch: Arch): Source {
  if (arch === hostArch()) return { kind: "host", path: hostPath };
  return standIn(name, arch, `echo "${name} stand-in v${version} linux/${arch}"`);
}

/** Deterministic pseudo-random bytes (xorshift32 seeded from a string): gzip cannot shrink them. */
function* noise(seed: string, total: number, chunk = MiB): Generator<Uint8Array> {
  let x = Number.parseInt(Bun.hash(seed).toString(16).slice(-8), 16) || 1;
  for (let done = 0; done < total; done += chunk) {
    const words = new Uint32Array(Math.ceil(Math.min(chunk, total - done) / 4));
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    yield new Uint8Array(words.buffer, 0, Math.min(chunk, total - done));
  }
}

/** Write a source to `dest` (mode 0755): a symlink for host binaries (tar follows it), a file otherwise. */
async function materialize(src: Source, dest: string): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  if (src.kind === "host") return symlinkSync(src.path, dest);
  const writer = Bun.file(dest).writer();
  writer.write(src.script);
  for (const block of noise(src.seed, Math.max(0, src.padTo - src.script.length))) {
    writer.write(block);
    await writer.flush();
  }
  await writer.end();
  chmodSync(dest, 0o755);
}

// ---------- hashing and atomic output ----------


/** A temp name beside `dest`: renamed over it once complete, so readers never see half a file. */
const tempBeside = (dest: string) => join(dirname(dest), `.${basename(dest)}.mirror-${process.pid}.tmp`);

/** Temp files a crashed build left behind, so a rebuild leaves nothing but the layout. */
function sweepTemps(dir: string) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sweepTemps(p);
    else if (/^\..*\.mirror-\d+\.tmp$/.test(e.name)) unlinkSync(p);
  }
}

function writeAtomic(dest: string, content: string) {
  mkdirSync(dirname(dest), { recursive: true });
  const temp = tempBeside(dest);
  writeFileSync(temp, content);
  renameSync(temp, dest);
}

// ---------- assets ----------

interface Built {
  sha256: string;
  size: number;
  entries?: ArchiveEntry[];
}

/** A single-file asset (kube binaries, runc): the source itself, written as a regular file. */
async function buildFile(src: Source, dest: string): Promise<Built> {
  mkdirSync(dirname(dest), { recursive: true });
  const temp = tempBeside(dest);
  if (src.kind === "host") await Bun.write(temp, Bun.file(src.path));
  else await materialize(src, temp);
  chmodSync(temp, 0o755);
  renameSync(temp, dest);
  return { sha256: await sha256File(dest), size: statSync(dest).size };
}

/**
 * A reproducible .tar.gz of `files` (archive path → source), with `dirs` entries first, as
 * upstream lays them out: uid/gid 0, mtime 0, mode 0755, sorted.
 */
async function buildTarball(dest: string, dirs: string[], files: Map<string, Source>): Promise<Built> {
  const stage = mkdtempSync(join(tmpdir(), "kube-rootfs-mirror-stage-"));
  chmodSync(stage, 0o755); // it is the archive's `./` entry
  try {
    const paths = [...files.keys()].sort();
    for (const p of paths) await materialize(files.get(p)!, join(stage, p));
    mkdirSync(dirname(dest), { recursive: true });
    const temp = tempBeside(dest);
    await create({ gzip: true, cwd: stage, file: temp, portable: true, follow: true, mtime: EPOCH, noDirRecurse: true }, [...dirs, ...paths]);
    renameSync(temp, dest);
    const entries = [...dirs.map(dirEntry), ...(await Promise.all(paths.map((p) => fileEntry(p, join(stage, p)))))];
    return { sha256: await sha256File(dest), size: statSync(dest).size, entries };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** `bin` is stored as `bin/`, `./` stays `./`. */
const dirEntry = (dir: string): ArchiveEntry => ({ path: dir.endsWith("/") ? dir : `${dir}/`, type: "dir", mode: 0o755, size: 0 });

async function fileEntry(path: string, staged: string): Promise<ArchiveEntry> {
  return { path, type: "file", mode: 0o755, size: statSync(staged).size, sha256: await sha256File(staged) };
}

// ---------- the five artifacts ----------

interface Ctx {
  out: string;
  v: MirrorVersions;
  realistic: boolean;
  containerdDir: string;
}

type Emit = (a: Omit<MirrorAsset, "sha256" | "size" | "entries">, built: Built) => void;

async function buildKubernetes(ctx: Ctx, arch: Arch, emit: Emit) {
  const version = ctx.v.kubernetes;
  for (const binary of KUBE_BINARIES) {
    const path = `kubernetes/v${version}/bin/linux/${arch}/${binary}`;
    const built = await buildFile(kubeStandIn(binary, version, arch, ctx.realistic), join(ctx.out, path));
    // dl.k8s.io serves bare hex with no newline.
    writeAtomic(join(ctx.out, `${path}.sha256`), built.sha256);
    emit({ artifact: "kubernetes", arch, version, binary, path, checksumPath: `${path}.sha256` }, built);
  }
}

async function buildCrictl(ctx: Ctx, arch: Arch, emit: Emit) {
  const version = ctx.v.crictl;
  const path = `crictl/v${version}/crictl-v${version}-linux-${arch}.tar.gz`;
  const built = await buildTarball(join(ctx.out, path), [], new Map([["crictl", crictlStandIn(version, arch, ctx.realistic)]]));
  writeAtomic(join(ctx.out, `${path}.sha256`), `${built.sha256}\n`);
  emit({ artifact: "crictl", arch, version, binary: "crictl", path, checksumPath: `${path}.sha256` }, built);
}

async function buildContainerd(ctx: Ctx, arch: Arch, emit: Emit) {
  const version = ctx.v.containerd;
  const name = `containerd-${version}-linux-${arch}.tar.gz`;
  const path = `containerd/v${version}/${name}`;
  const files = new Map(CONTAINERD_BINARIES.map((b) => [`bin/${b}`, hostOrStandIn(join(ctx.containerdDir, b), b, version, arch)]));
  const built = await buildTarball(join(ctx.out, path), ["bin"], files);
  writeAtomic(join(ctx.out, `${path}.sha256sum`), `${built.sha256}  ${name}\n`);
  emit({ artifact: "containerd", arch, version, binary: "containerd", path, checksumPath: `${path}.sha256sum` }, built);
}

async function buildRunc(ctx: Ctx, arch: Arch, emit: Emit) {
  const version = ctx.v.runc;
  const path = `runc/v${version}/runc.${arch}`;
  const built = await buildFile(hostOrStandIn(HOST_BIN.runc, "runc", version, arch), join(ctx.out, path));
  emit({ artifact: "runc", arch, version, binary: "runc", path, checksumPath: `runc/v${version}/runc.sha256sum` }, built);
}

/** runc.sha256sum lists every asset of the release, sorted, like upstream; written once all arches are built. */
async function writeRuncSums(ctx: Ctx, runcAssets: MirrorAsset[]) {
  const dir = join(ctx.out, `runc/v${ctx.v.runc}`);
  const extra = await buildFile(standIn("runc", "armel", `echo "runc stand-in v${ctx.v.runc} linux/armel"`), join(dir, RUNC_EXTRA_ASSET));
  const lines = [...runcAssets.map((a) => `${a.sha256}  ${basename(a.path)}`), `${extra.sha256}  ${RUNC_EXTRA_ASSET}`].sort((a, b) =>
    a.slice(66).localeCompare(b.slice(66)),
  );
  writeAtomic(join(dir, "runc.sha256sum"), `${lines.join("\n")}\n`);
}

async function buildCni(ctx: Ctx, arch: Arch, emit: Emit) {
  const version = ctx.v.cni;
  const name = `cni-plugins-linux-${arch}-v${version}.tgz`;
  const path = `cni/v${version}/${name}`;
  const plugins = readdirSync(HOST_BIN.cni).sort();
  const files = new Map(plugins.map((p) => [`./${p}`, hostOrStandIn(join(HOST_BIN.cni, p), p, version, arch)]));
  const built = await buildTarball(join(ctx.out, path), ["./"], files);
  writeAtomic(join(ctx.out, `${path}.sha256`), `${built.sha256}  ${name}\n`);
  emit({ artifact: "cni", arch, version, binary: "cni", path, checksumPath: `${path}.sha256` }, built);
}

// ---------- the stamp: skip a rebuild of an identical, complete mirror ----------

/** Everything the mirror's bytes depend on: versions, arches, padding and the host binaries used. */
function stampKey(v: MirrorVersions, arch: Arch[], realistic: boolean, containerdDir: string) {
  const hostFiles = [...CONTAINERD_BINARIES.map((b) => join(containerdDir, b)), HOST_BIN.runc, ...readdirSync(HOST_BIN.cni).map((p) => join(HOST_BIN.cni, p))];
  const sources = Object.fromEntries(hostFiles.sort().map((f) => [f, `${statSync(f).size}:${statSync(f).mtimeMs}`]));
  // The stand-in kubelet's text too, so a mirror built before it changed is rebuilt.
  const kubelet = Bun.hash(kubeletStandInScript(v.kubernetes, "")).toString(16);
  return JSON.stringify({ v, arch, realistic, sources, kubelet });
}

function readStamp(out: string, key: string): MirrorInfo | undefined {
  try {
    const stamp = JSON.parse(readFileSync(join(out, STAMP), "utf8")) as { key: string; info: MirrorInfo };
    if (stamp.key !== key) return undefined;
    const complete = stamp.info.assets.every((a) => existsSync(join(out, a.checksumPath)) && statSync(join(out, a.path), { throwIfNoEntry: false })?.size === a.size);
    return complete ? { ...stamp.info, dir: out } : undefined;
  } catch {
    return undefined;
  }
}

function checkHostBinaries(containerdDir: string) {
  const missing = [...CONTAINERD_BINARIES.map((b) => join(containerdDir, b)), HOST_BIN.runc, HOST_BIN.cni].filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`mirror: missing ${missing.join(", ")}: apt-get install containerd runc containernetworking-plugins`);
}

export async function buildMirror(opts: MirrorOptions): Promise<MirrorInfo> {
  const containerdDir = opts.containerdDir ?? HOST_BIN.containerd;
  checkHostBinaries(containerdDir);
  const out = resolve(opts.out);
  const v = resolveVersions(opts);
  const arch = opts.arch ?? ["amd64", "arm64"];
  const realistic = opts.realistic ?? false;
  const key = stampKey(v, arch, realistic, containerdDir);
  const cached = readStamp(out, key);
  if (cached) return cached;

  mkdirSync(out, { recursive: true });
  // A crash from here on leaves no stamp, so the next run rebuilds.
  if (existsSync(join(out, STAMP))) unlinkSync(join(out, STAMP));
  sweepTemps(out);
  const ctx: Ctx = { out, v, realistic, containerdDir };
  const assets: MirrorAsset[] = [];
  const emit: Emit = (a, b) => assets.push({ ...a, ...b });
  for (const a of arch) {
    for (const build of [buildKubernetes, buildCrictl, buildContainerd, buildRunc, buildCni]) await build(ctx, a, emit);
  }
  await writeRuncSums(ctx, assets.filter((a) => a.artifact === "runc"));
  const info: MirrorInfo = { dir: out, versions: v, arch, realistic, assets };
  writeAtomic(join(out, STAMP), JSON.stringify({ key, info }, null, 1));
  return info;
}

// ---------- CLI ----------

function parseArch(list: string): Arch[] {
  const arches = list.split(",").map((s) => s.trim());
  for (const a of arches) if (a !== "amd64" && a !== "arm64") throw new Error(`--arch: expected amd64|arm64, got ${a}`);
  return arches as Arch[];
}

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      kubernetes: { type: "string" },
      containerd: { type: "string" },
      runc: { type: "string" },
      cni: { type: "string" },
      crictl: { type: "string" },
      arch: { type: "string", default: "amd64,arm64" },
      realistic: { type: "boolean", default: false },
    },
  });
  if (!values.out) throw new Error("--out DIR is required");
  const started = performance.now();
  const { out, arch, realistic, ...versions } = values;
  const info = await buildMirror({ ...versions, out, arch: parseArch(arch!), realistic });
  const bytes = info.assets.reduce((n, a) => n + a.size, 0);
  for (const a of info.assets) console.log(`${a.sha256}  ${(a.size / MiB).toFixed(1).padStart(6)} MiB  ${a.path}`);
  console.log(`mirror: ${info.dir}: ${info.assets.length} assets, ${(bytes / MiB).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

if (import.meta.main) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
