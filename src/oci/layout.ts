// An OCI image layout on disk (oci-layout, index.json, blobs/sha256/…): the pull cache under
// `<cacheDir>/oci`, and any `oci-layout:DIR` source. Blobs are stored only once their digest
// and size are checked, so a blob present under its name is the content it names.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { RunError } from "../errors";
import { ioError, removeQuietly, sweepStaleTemps, tempPathFor, writeFileAtomic } from "../fs/atomic";
import { withPidLock } from "../fs/pid-lock";
import type { Sink } from "../http/download";
import { HashingSink } from "../http/hashing-sink";
import { DIGEST, sha256Digest, type Descriptor, type ImageIndex } from "./media";

export const REF_NAME = "org.opencontainers.image.ref.name";

export class ImageLayout {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    if (!DIGEST.test(digest)) throw new RunError(`${this.dir}: unsupported digest ${digest}`);
    return join(this.dir, "blobs", "sha256", digest.slice("sha256:".length));
  }

  /** The blob is stored with the descriptor's size (its content was checked when stored). */
  has(desc: Descriptor): boolean {
    try {
      return statSync(this.blobPath(desc.digest)).size === desc.size;
    } catch {
      return false;
    }
  }

  /** A small JSON blob (manifest, index, config), re-checked against its digest. */
  readJSON<T>(desc: Descriptor): T {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.blobPath(desc.digest));
    } catch (err) {
      throw ioError(`read ${desc.digest} from image layout ${this.dir}`, err);
    }
    const got = sha256Digest(bytes);
    if (got !== desc.digest) throw new RunError(`image layout ${this.dir}: blob ${desc.digest} holds ${got} (corrupt)`);
    return JSON.parse(bytes.toString("utf8")) as T;
  }

  /** Create the layout's skeleton if missing. */
  async init(): Promise<void> {
    try {
      mkdirSync(join(this.dir, "blobs", "sha256"), { recursive: true, mode: 0o755 });
    } catch (err) {
      throw ioError(`create image layout ${this.dir}`, err);
    }
    if (!existsSync(join(this.dir, "oci-layout"))) await writeFileAtomic(join(this.dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}\n');
    const index = join(this.dir, "index.json");
    if (existsSync(index)) return;
    await withPidLock(`${index}.lock`, async () => {
      if (!existsSync(index)) await writeFileAtomic(index, JSON.stringify({ schemaVersion: 2, manifests: [] }));
    });
  }

  async putBytes(bytes: Uint8Array): Promise<string> {
    const digest = sha256Digest(bytes);
    await writeFileAtomic(this.blobPath(digest), bytes);
    return digest;
  }

  /**
   * Store a blob streamed by `fill` into a temp file, hashed as it comes; kept under its name
   * only when digest and size match. `source` names where it came from in a mismatch.
   */
  async storeBlob(desc: Descriptor, source: string, fill: (sink: Sink) => Promise<void>): Promise<void> {
    const final = this.blobPath(desc.digest);
    sweepStaleTemps(join(this.dir, "blobs", "sha256"));
    const temp = tempPathFor(final);
    let fd: number;
    try {
      fd = openSync(temp, "wx+", 0o644);
    } catch (err) {
      throw ioError(`write ${temp}`, err);
    }
    try {
      const sink = new HashingSink({ fd, path: temp });
      await fill(sink);
      const got = `sha256:${sink.sha256()}`;
      if (got !== desc.digest) throw new RunError(`blob ${desc.digest} from ${source}: digest mismatch (got ${got})`);
      if (sink.received !== desc.size) throw new RunError(`blob ${desc.digest} from ${source}: ${sink.received} bytes, the manifest says ${desc.size}`);
      closeSync(fd);
      fd = -1;
      renameSync(temp, final);
    } catch (err) {
      if (fd >= 0) closeSync(fd);
      removeQuietly(temp);
      throw err;
    }
  }

  index(): ImageIndex {
    try {
      return JSON.parse(readFileSync(join(this.dir, "index.json"), "utf8")) as ImageIndex;
    } catch (err) {
      throw new RunError(`${this.dir}: not an OCI image layout (index.json: ${(err as Error).message})`);
    }
  }

  /** The manifest or index named `name` (its ref.name annotation); without a name, the only one. */
  resolve(name: string | undefined): Descriptor | undefined {
    const all = this.index().manifests;
    if (name === undefined) {
      if (all.length > 1) throw new RunError(`image layout ${this.dir} holds ${all.length} images; name one (oci-layout:DIR:NAME): ${names(all)}`);
      return all[0];
    }
    return all.find((d) => d.annotations?.[REF_NAME] === name);
  }

  /**
   * Point `name` at a manifest or index in index.json (replacing what it named before). Runs
   * sharing a cache tag at once: the read and the write back hold a lock, so none loses another's.
   */
  async tag(name: string, desc: Descriptor): Promise<void> {
    const file = join(this.dir, "index.json");
    await withPidLock(`${file}.lock`, async () => {
      const index = this.index();
      index.manifests = [
        ...index.manifests.filter((d) => d.annotations?.[REF_NAME] !== name),
        { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: { [REF_NAME]: name } },
      ];
      await writeFileAtomic(file, JSON.stringify(index));
    });
  }
}

const names = (all: Descriptor[]) => all.map((d) => d.annotations?.[REF_NAME] ?? d.digest).join(", ");
