// The bytes of one download as they arrive: appended to a file (a cache part, a blob's temp
// file) and hashed in the same pass. downloadFile streams a URL into a new file this way.
import { closeSync, ftruncateSync, openSync } from "node:fs";
import { ioError, writeAll } from "../fs/atomic";
import { download, type DownloadOptions, type Sink } from "./download";

/** Bytes into the part file (when downloading) and the sha256 hasher. */
export class HashingSink implements Sink {
  private hasher = new Bun.CryptoHasher("sha256");
  received = 0;
  constructor(readonly part?: { fd: number; path: string }) {}
  /** Bytes that are already on disk (a cache file, an adopted part): hashed, not rewritten. */
  replay(chunk: Uint8Array): void {
    this.hasher.update(chunk);
    this.received += chunk.byteLength;
  }
  /** Bytes from the network: written to the part file, then seen as replay sees them. */
  write(chunk: Uint8Array) {
    if (this.part) writeAll(this.part.fd, chunk, this.part.path);
    this.replay(chunk);
  }
  reset() {
    if (this.part) ftruncateSync(this.part.fd, 0);
    this.hasher = new Bun.CryptoHasher("sha256");
    this.received = 0;
  }
  /** The sha256 (hex) of every byte received since the last reset. */
  sha256(): string {
    return this.hasher.digest("hex");
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
    const sink = new HashingSink({ fd, path });
    await download(url, sink, opts);
    return sink.sha256();
  } finally {
    closeSync(fd);
  }
}
