// The bytes of one asset, as they arrive: appended to a file (the cache part), hashed, and for an
// archive being installed, unpacked on the way. downloadFile is the same sink with no unpacker.
import { closeSync, ftruncateSync, openSync } from "node:fs";
import { ioError, writeAll } from "../fs/atomic";
import { download, type DownloadOptions, type Sink } from "./download";
import type { StagedFile, Unpacker } from "./unpack";

/** Bytes of one asset: into the cache part file (when downloading), the hasher and, for an archive, the unpacker. */
export class AssetSink implements Sink {
  private hasher = new Bun.CryptoHasher("sha256");
  private unpacker?: Unpacker;
  received = 0;
  constructor(
    private readonly newUnpacker: () => Unpacker | undefined,
    private readonly part?: { fd: number; path: string },
  ) {
    this.unpacker = newUnpacker();
  }
  /** Bytes that are already on disk (a cache file, an adopted part): hashed and unpacked, not rewritten. A promise: wait for it before the next. */
  replay(chunk: Uint8Array): Promise<void> | undefined {
    this.hasher.update(chunk);
    this.received += chunk.byteLength;
    return this.unpacker?.write(chunk);
  }
  /** Bytes from the network; its unpacker never asks to wait (it inflates inline). */
  write(chunk: Uint8Array) {
    if (this.part) writeAll(this.part.fd, chunk, this.part.path);
    void this.replay(chunk);
  }
  reset() {
    this.unpacker?.discard();
    if (this.part) ftruncateSync(this.part.fd, 0);
    this.hasher = new Bun.CryptoHasher("sha256");
    this.unpacker = this.newUnpacker();
    this.received = 0;
  }
  async finish(): Promise<{ sha256: string; staged: StagedFile[] }> {
    return { sha256: this.hasher.digest("hex"), staged: (await this.unpacker?.end()) ?? [] };
  }
  discard() {
    this.unpacker?.discard();
  }
}

/** Stream a URL into a new file (mode 0600), hashing on the way; resolves to its sha256. */
export async function downloadFile(url: string, path: string, opts: DownloadOptions): Promise<string> {
  let fd: number;
  try {
    fd = openSync(path, "wx+", 0o600);
  } catch (err) {
    throw ioError(`write ${path}`, err);
  }
  try {
    const sink = new AssetSink(() => undefined, { fd, path });
    await download(url, sink, opts);
    return (await sink.finish()).sha256;
  } finally {
    closeSync(fd);
  }
}
