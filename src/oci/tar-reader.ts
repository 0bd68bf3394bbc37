// A streaming tar reader for image layers: ustar, GNU long names and PAX headers, keeping what
// node-tar drops and a rootfs needs: binary xattr values (SCHILY.xattr.*, e.g. file
// capabilities) and device numbers. Entries come one at a time; a body not read is skipped.

export type EntryType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface TarEntry {
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkpath: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
  /** the body, in chunks; read it before asking for the next entry, or it is skipped */
  body(): AsyncGenerator<Uint8Array>;
}

export class TarError extends Error {}

const TYPES: Record<string, EntryType> = { "0": "file", "\0": "file", "7": "file", "1": "hardlink", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo" };

/** Bytes from an async source, taken by exact counts. */
class ByteReader {
  private buffered: Buffer[] = [];
  private have = 0;
  private done = false;
  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.have < n && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else {
        const b = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
        this.buffered.push(b);
        this.have += b.byteLength;
      }
    }
    return this.have >= n;
  }

  /** Exactly n bytes, or undefined at a clean end of input. */
  async take(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.have === 0) return undefined;
      throw new TarError(`truncated: input ended inside a ${n}-byte block`);
    }
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    this.buffered = all.byteLength > n ? [all.subarray(n)] : [];
    this.have -= n;
    return all.subarray(0, n);
  }

  /** n bytes as they come, in the source's chunks. */
  async *stream(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (!this.have && !(await this.fill(1))) throw new TarError(`truncated: input ended with ${left} bytes of an entry left`);
      const head = this.buffered.shift()!;
      const part = head.byteLength > left ? head.subarray(0, left) : head;
      if (head.byteLength > left) this.buffered.unshift(head.subarray(left));
      this.have -= part.byteLength;
      left -= part.byteLength;
      yield part;
    }
  }
}

const cString = (b: Buffer) => {
  const end = b.indexOf(0);
  return b.toString("utf8", 0, end < 0 ? b.length : end);
};

/** An octal field, or base-256 when the high bit is set (GNU, for big sizes and ids). */
function numeric(b: Buffer): number {
  if (b[0]! & 0x80) {
    let n = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = cString(b).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === numeric(h.subarray(148, 156));
}

/** PAX records: `<len> <key>=<value>\n`, the value raw bytes (xattrs are binary). */
function parsePax(data: Buffer, into: Map<string, Buffer>) {
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    const len = parseInt(data.toString("ascii", off, space), 10);
    if (space < 0 || !(len > 0) || off + len > data.length) throw new TarError("malformed PAX header");
    const record = data.subarray(space + 1, off + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new TarError("malformed PAX record");
    into.set(record.toString("utf8", 0, eq), Buffer.from(record.subarray(eq + 1)));
    off += len;
  }
}

const pad = (n: number) => (512 - (n % 512)) % 512;

export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source[Symbol.asyncIterator]());
  const global = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await reader.take(512);
    if (!h || h.every((b) => b === 0)) return;
    if (!checksumOk(h)) throw new TarError("bad header checksum (not a tar stream, or corrupt)");
    const flag = String.fromCharCode(h[156]!);
    const size = numeric(h.subarray(124, 136));
    if ("xgLK".includes(flag)) {
      const data = (await reader.take(size + pad(size))) ?? Buffer.alloc(0);
      const body = data.subarray(0, size);
      if (flag === "x") parsePax(body, pax);
      else if (flag === "g") parsePax(body, global);
      else if (flag === "L") longName = cString(body);
      else longLink = cString(body);
      continue;
    }
    const type = TYPES[flag];
    if (!type) throw new TarError(`entry type ${JSON.stringify(flag)} is not supported`);
    const ext = new Map([...global, ...pax]);
    const text = (k: string) => ext.get(k)?.toString("utf8");
    const num = (k: string, fallback: number) => (ext.has(k) ? Number(text(k)) : fallback);
    const prefix = h.subarray(257, 262).toString() === "ustar" ? cString(h.subarray(345, 500)) : "";
    const name = cString(h.subarray(0, 100));
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of ext) if (k.startsWith("SCHILY.xattr.")) xattrs.set(k.slice("SCHILY.xattr.".length), v);
    const bodySize = type === "file" ? num("size", size) : 0;
    let consumed = false;
    const entry: TarEntry = {
      path: text("path") ?? longName ?? (prefix ? `${prefix}/${name}` : name),
      type,
      mode: numeric(h.subarray(100, 108)) & 0o7777,
      uid: num("uid", numeric(h.subarray(108, 116))),
      gid: num("gid", numeric(h.subarray(116, 124))),
      size: bodySize,
      mtime: num("mtime", numeric(h.subarray(136, 148))),
      linkpath: text("linkpath") ?? longLink ?? cString(h.subarray(157, 257)),
      devmajor: numeric(h.subarray(329, 337)),
      devminor: numeric(h.subarray(337, 345)),
      xattrs,
      body: () => {
        consumed = true;
        return reader.stream(bodySize);
      },
    };
    pax = new Map();
    longName = longLink = undefined;
    yield entry;
    if (!consumed) for await (const _ of reader.stream(bodySize));
    if (pad(bodySize)) await reader.take(pad(bodySize));
  }
}
