// A rootfs snapshot as a one-layer OCI image. The layer is the snapshot's tar: when the snapshot
// already has the asked compression its file is the layer blob as it is; otherwise the tar is
// streamed through a hash (the uncompressed digest, the config's diff_id) into the compressor,
// whose output is hashed on its way to disk. The JSON documents are pure functions.
import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Arch } from "../config/schema";
import { abortError } from "../engine/task";
import { RunError } from "../errors";
import { ioError, removeQuietly } from "../fs/atomic";
import { compressor, decompressor, detectCompression, EXT, readSidecar, type Compression } from "../rootfs/bootstrap/snapshot";
import { MEDIA, sha256Digest, type Descriptor, type Platform } from "../oci/media";

export const LAYER_MEDIA: Record<Compression, string> = { zstd: MEDIA.ociLayerZstd, gzip: MEDIA.ociLayerGzip };

/** The OCI platform of an arch: arm64 is the v8 variant, as registries and runtimes expect. */
export const platformOf = (arch: Arch): Platform => (arch === "arm64" ? { architecture: "arm64", os: "linux", variant: "v8" } : { architecture: "amd64", os: "linux" });

export interface Layer extends Descriptor {
  /** the blob's bytes on disk */
  file: string;
  /** sha256 of the uncompressed tar */
  diffID: string;
}

/** A JSON document as pushed: its exact bytes and the descriptor that names them. */
export interface Doc {
  bytes: Uint8Array;
  descriptor: Descriptor;
}

export interface Image {
  arch: Arch;
  layer: Layer;
  config: Doc;
  manifest: Doc;
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function doc(mediaType: string, value: unknown, platform?: Platform): Doc {
  const bytes = encode(value);
  return { bytes, descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.byteLength, ...(platform ? { platform } : {}) } };
}

/** The image config: platform, the one layer's diff_id, and when the rootfs was made. */
export function imageConfig(arch: Arch, diffID: string, created: string): Doc {
  return doc(MEDIA.ociConfig, {
    created,
    ...platformOf(arch),
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/sbin/init"] },
    rootfs: { type: "layers", diff_ids: [diffID] },
    history: [{ created, created_by: "kube-rootfs image push (bootstrap snapshot)" }],
  });
}

export function imageManifest(arch: Arch, config: Descriptor, layer: Descriptor): Doc {
  const plain = ({ mediaType, digest, size }: Descriptor): Descriptor => ({ mediaType, digest, size });
  return doc(MEDIA.ociManifest, { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: plain(config), layers: [plain(layer)] }, platformOf(arch));
}

/** The index of several arches' manifests, each with its platform. */
export const imageIndex = (manifests: Descriptor[]): Doc => doc(MEDIA.ociIndex, { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests });

/** Run argv with stdin from a file or a stream; its stdout, and a promise that rejects when it fails. */
function spawnStage(argv: string[], stdin: string | ReadableStream<Uint8Array>, signal: AbortSignal) {
  const input = typeof stdin === "string" ? openSync(stdin, "r") : stdin;
  const proc = Bun.spawn(argv, { stdin: input, stdout: "pipe", stderr: "pipe" });
  if (typeof input === "number") closeSync(input);
  const kill = () => proc.kill("SIGKILL");
  signal.addEventListener("abort", kill, { once: true });
  const done = (async () => {
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    signal.removeEventListener("abort", kill);
    if (signal.aborted) throw abortError();
    if (code !== 0) throw new RunError(`${argv[0]} failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  })();
  return { stdout: proc.stdout, done };
}

/** Hash a stream as it passes through. */
function hashing(hash: Bun.CryptoHasher): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, out) {
      hash.update(chunk);
      out.enqueue(chunk);
    },
  });
}

/**
 * The layer blob of a (verified) snapshot in `compression`. A transcoded blob is written into
 * `workDir`; the caller removes that dir.
 */
export async function buildLayer(snapshot: string, compression: Compression, workDir: string, signal: AbortSignal): Promise<Layer> {
  // Any failure stops both tools: neither may be left blocked on a pipe nobody reads.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await streamLayer(snapshot, compression, workDir, stop.signal);
  } catch (err) {
    stop.abort();
    throw signal.aborted ? abortError() : err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

async function streamLayer(snapshot: string, compression: Compression, workDir: string, signal: AbortSignal): Promise<Layer> {
  const from = detectCompression(snapshot);
  const uncompressed = new Bun.CryptoHasher("sha256");
  const diffID = () => `sha256:${uncompressed.digest("hex")}`;
  const tar = spawnStage(decompressor[from], snapshot, signal);
  if (from === compression) {
    const sha = readSidecar(snapshot);
    if (!sha) throw new RunError(`${snapshot}: no recorded sha256 beside it`);
    await Promise.all([tar.stdout.pipeThrough(hashing(uncompressed)).pipeTo(new WritableStream()), tar.done]);
    return { mediaType: LAYER_MEDIA[compression], digest: `sha256:${sha}`, size: statSync(snapshot).size, file: snapshot, diffID: diffID() };
  }
  const file = join(workDir, `layer-${process.pid}-${Date.now()}.${EXT[compression]}`);
  const compressed = new Bun.CryptoHasher("sha256");
  const packed = spawnStage(compressor[compression], tar.stdout.pipeThrough(hashing(uncompressed)), signal);
  let size = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, "wx", 0o600);
    const out = fd;
    const write = (async () => {
      for await (const chunk of packed.stdout) {
        compressed.update(chunk);
        writeSync(out, chunk);
        size += chunk.byteLength;
      }
    })().catch((err: unknown) => Promise.reject(ioError(`write layer ${file}`, err)));
    await Promise.all([write, tar.done, packed.done]);
  } catch (err) {
    removeQuietly(file);
    throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { mediaType: LAYER_MEDIA[compression], digest: `sha256:${compressed.digest("hex")}`, size, file, diffID: diffID() };
}

/** Layer, config and manifest of one arch's snapshot; `created` is when the snapshot was made. */
export async function buildImage(arch: Arch, snapshot: string, compression: Compression, workDir: string, signal: AbortSignal): Promise<Image> {
  const layer = await buildLayer(snapshot, compression, workDir, signal);
  const config = imageConfig(arch, layer.diffID, statSync(snapshot).mtime.toISOString());
  return { arch, layer, config, manifest: imageManifest(arch, config.descriptor, layer) };
}
