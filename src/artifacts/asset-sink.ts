// The bytes of one asset, as they arrive: the download's hashing sink (cache part file and
// sha256), and for an archive being installed, unpacked on the way.
import { HashingSink } from "../http/hashing-sink";
import type { StagedFile, Unpacker } from "./unpack";

/** Bytes of one asset: into the cache part file (when downloading), the hasher and, for an archive, the unpacker. */
export class AssetSink extends HashingSink {
  private unpacker?: Unpacker;
  constructor(
    private readonly newUnpacker: () => Unpacker | undefined,
    part?: { fd: number; path: string },
  ) {
    super(part);
    this.unpacker = newUnpacker();
  }
  /**
   * Bytes are unpacked as they are hashed. A promise: wait for it before the next. Bytes from
   * the network come through write, which does not wait: that unpacker inflates inline.
   */
  override replay(chunk: Uint8Array): Promise<void> | undefined {
    super.replay(chunk);
    return this.unpacker?.write(chunk);
  }
  override reset() {
    this.unpacker?.discard();
    super.reset();
    this.unpacker = this.newUnpacker();
  }
  async finish(): Promise<{ sha256: string; staged: StagedFile[] }> {
    return { sha256: this.sha256(), staged: (await this.unpacker?.end()) ?? [] };
  }
  discard() {
    this.unpacker?.discard();
  }
}
