// An asset's bytes go to a byte worker (src/artifacts/byte-worker.ts): a sender faster than the
// worker is held back (its bytes never pile up in memory), what it stages is exactly the
// archive's file, the sha256 covers every byte, and a bad archive fails and leaves nothing.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AssetSink } from "../../src/artifacts/asset-sink";
import { BadContent } from "../../src/artifacts/unpack";
import { Limit } from "../../src/http/limit";
import { tempDir } from "../helpers/tmp";

function crictlArchive(size: number): { body: Uint8Array; gz: Uint8Array } {
  const tree = tempDir("archive-src");
  // Incompressible, so the compressed stream is as long as the file.
  const body = new Uint8Array(size);
  for (let o = 0; o < body.length; o += 65536) crypto.getRandomValues(body.subarray(o, o + 65536));
  writeFileSync(join(tree, "crictl"), body);
  const tar = Bun.spawnSync(["tar", "--create", "--gzip", "--file=-", `--directory=${tree}`, "crictl"], { stdout: "pipe" });
  return { body, gz: new Uint8Array(tar.stdout) };
}

function rootfs(): string {
  const root = tempDir("archive-root");
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  return root;
}

const unpack = (root: string) => ({ artifact: "crictl" as const, target: { root, dir: "usr/local/bin", source: "test.tar.gz", maxBytes: 1 << 30 } });
const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

/** Replay `chunks` and finish, as the pipeline does; the error, after discarding as the pipeline does. */
async function failureOf(sink: AssetSink, chunks: Uint8Array[]): Promise<unknown> {
  try {
    for (const c of chunks) await sink.replay(c);
    await sink.finish();
  } catch (err) {
    await sink.discard();
    return err;
  }
  throw new Error("the sink did not fail");
}

test("a tar.gz fed faster than the worker unpacks it: the sender is told to wait, and the staged file is whole", async () => {
  const { body, gz } = crictlArchive(24 << 20);
  const root = rootfs();
  const sink = new AssetSink(undefined, unpack(root));
  let waits = 0;
  for (let o = 0; o < gz.length; o += 65536) {
    const wait = sink.replay(gz.subarray(o, o + 65536));
    if (wait) {
      waits++;
      await wait;
    }
  }
  const { sha256: hash, staged } = await sink.finish();
  expect(waits).toBeGreaterThan(0);
  expect(hash).toBe(sha256(gz));
  expect(staged.map((f) => f.rel)).toEqual(["usr/local/bin/crictl"]);
  expect(staged[0]!.sha256).toBe(sha256(body));
  expect(readFileSync(staged[0]!.temp).equals(Buffer.from(body))).toBe(true);
});

test("bytes from the network are appended to the part file by the worker, in order", async () => {
  const dir = tempDir("asset-part");
  const path = join(dir, "asset.part");
  const fd = (await import("node:fs")).openSync(path, "a+", 0o644);
  const bytes = crypto.getRandomValues(new Uint8Array(1 << 20));
  // Served in 4 KiB chunks, so the part file is written in many appends.
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () =>
      new Response(
        new ReadableStream({
          start(c) {
            for (let o = 0; o < bytes.length; o += 4096) c.enqueue(bytes.subarray(o, o + 4096));
            c.close();
          },
        }),
      ),
  });
  try {
    const sink = new AssetSink({ fd, path });
    const options = { signal: new AbortController().signal, limit: new Limit(1), attempts: 1, stallMs: 10_000, totalMs: 30_000, maxBytes: 1 << 30 };
    expect((await sink.download(`http://127.0.0.1:${server.port}/asset`, 0, options)).sha256).toBe(sha256(bytes));
    expect(readFileSync(path).equals(Buffer.from(bytes))).toBe(true);
  } finally {
    server.stop(true);
  }
});

test("a bad archive fails as bad content, and discarding it leaves no staged file", async () => {
  const { gz } = crictlArchive(1 << 20);
  const root = rootfs();
  const broken = gz.slice();
  broken.fill(7, 4096, 8192);
  const chunks = Array.from({ length: Math.ceil(broken.length / 1024) }, (_, i) => broken.subarray(i * 1024, (i + 1) * 1024));
  const failed = await failureOf(new AssetSink(undefined, unpack(root)), chunks);
  expect(failed).toBeInstanceOf(BadContent);
  expect((failed as Error).message).toStartWith("archive test.tar.gz: ");
  expect(readdirSync(join(root, "usr/local/bin"))).toEqual([]);
  expect(existsSync(join(root, "usr/local/bin/crictl"))).toBe(false);
});

// A gzip bomb of entries the payload skips, each under the cap: every inflated byte counts
// towards the ratio, not only the bytes of the files kept.
test("an archive inflating to over 4× the size cap fails as bad content, however its bytes are spread", async () => {
  const tree = tempDir("archive-bomb");
  writeFileSync(join(tree, "crictl"), "#!/bin/sh\n");
  for (let i = 0; i < 6; i++) writeFileSync(join(tree, `pad${i}`), new Uint8Array(1 << 20));
  const gz = Bun.spawnSync(["tar", "--create", "--gzip", "--file=-", `--directory=${tree}`, "crictl", ...Array.from({ length: 6 }, (_, i) => `pad${i}`)], { stdout: "pipe" }).stdout;
  expect(gz.length).toBeLessThan(64 * 1024);
  const root = rootfs();
  const capped = { ...unpack(root), target: { ...unpack(root).target, maxBytes: 1 << 20 } };
  const failed = await failureOf(new AssetSink(undefined, capped), [new Uint8Array(gz)]);
  expect(failed).toBeInstanceOf(BadContent);
  expect((failed as Error).message).toBe("archive test.tar.gz: extracted data over 4× the 1048576-byte cap");
  expect(readdirSync(join(root, "usr/local/bin"))).toEqual([]);
});

// A mirror whose checksum file agrees can still serve an archive padded after its end: zeros that
// compress to kilobytes (under the download cap, under the inflate ratio node-tar refuses), then
// bytes that are no gzip at all. Nothing after the end-of-archive blocks is read, as GNU tar reads
// nothing more: node-tar would append all of it to one growing buffer (measured: over 100 s for
// this one), then fail on the garbage. The test's own timeout only guards a hang; the garbage makes
// the difference deterministic.
test("what follows the end of the archive is never read: zeros inflating to 200 MiB, then garbage", async () => {
  const { body, gz } = crictlArchive(4 << 20);
  const tar = join(tempDir("archive-tail"), "crictl.tar");
  writeFileSync(tar, Bun.gunzipSync(gz as Uint8Array<ArrayBuffer>));
  // one gzip stream: the archive and the zeros; then bytes of no format
  const padded = Bun.spawnSync(["sh", "-c", `(cat ${tar}; head -c 200M /dev/zero) | gzip -1`], { stdout: "pipe" }).stdout;
  const file = new Uint8Array(Buffer.concat([padded, Buffer.alloc(4096, 7)]));
  expect(file.length).toBeLessThan(5 << 20);
  const root = rootfs();
  const sink = new AssetSink(undefined, unpack(root));
  for (let o = 0; o < file.length; o += 65536) await sink.replay(file.slice(o, o + 65536));
  const { sha256: hash, staged } = await sink.finish();
  expect(hash).toBe(sha256(file));
  expect(staged.map((f) => f.rel)).toEqual(["usr/local/bin/crictl"]);
  expect(readFileSync(staged[0]!.temp).equals(Buffer.from(body))).toBe(true);
}, 60_000);

test("a job its worker cannot open fails by name, and the worker goes on serving other jobs", async () => {
  const root = rootfs();
  const bad = new AssetSink(undefined, { artifact: "no-such-artifact" as "crictl", target: unpack(root).target });
  const failed = await failureOf(bad, Array.from({ length: 64 }, () => new Uint8Array(65536)));
  expect(failed).toBeInstanceOf(Error);
  expect((failed as Error).message).toContain("payload");
  const bytes = crypto.getRandomValues(new Uint8Array(4096));
  const expected = sha256(bytes);
  const good = new AssetSink();
  await good.replay(bytes);
  // A chunk that is all of its buffer is handed over, not copied: the sender no longer has it.
  expect(bytes.byteLength).toBe(0);
  expect((await good.finish()).sha256).toBe(expected);
});
