// A single binary is staged by its byte worker as its bytes arrive (src/artifacts/unpack.ts,
// fileUnpacker): the staged file beside its final place is every byte, its sha256 is the asset's,
// and a discarded download leaves no staged file behind.
import { expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AssetSink } from "../../src/artifacts/asset-sink";
import { tempDir } from "../helpers/tmp";

function rootfs(): string {
  const root = tempDir("binary-root");
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  return root;
}

const stage = (root: string) => ({ artifact: "kubelet" as const, target: { root, dir: "usr/local/bin", source: "kubelet", maxBytes: 1 << 30 } });
const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

test("a single binary's bytes are staged whole beside its final place, with the asset's sha256", async () => {
  // Past the write-back threshold (16 MiB), so a background flush runs while bytes still come.
  const bytes = new Uint8Array(40 << 20);
  for (let o = 0; o < bytes.length; o += 65536) crypto.getRandomValues(bytes.subarray(o, o + 65536));
  const expected = sha256(bytes);
  const root = rootfs();
  const sink = new AssetSink(undefined, stage(root));
  for (let o = 0; o < bytes.length; o += 65536) await sink.replay(bytes.slice(o, o + 65536));
  const { sha256: hash, staged } = await sink.finish();
  expect(hash).toBe(expected);
  expect(staged).toHaveLength(1);
  expect(staged[0]!).toMatchObject({ rel: "usr/local/bin/kubelet", final: join(root, "usr/local/bin/kubelet"), sha256: expected, size: bytes.length });
  expect(readFileSync(staged[0]!.temp).equals(Buffer.from(bytes))).toBe(true);
  // Staged, not installed: nothing is at the final path until the pipeline renames it there.
  expect(readdirSync(join(root, "usr/local/bin"))).toEqual([staged[0]!.temp.split("/").pop()!]);
});

test("a single binary's download that is discarded leaves no staged file", async () => {
  const root = rootfs();
  const sink = new AssetSink(undefined, stage(root));
  await sink.replay(crypto.getRandomValues(new Uint8Array(65536)));
  await sink.discard();
  expect(readdirSync(join(root, "usr/local/bin"))).toEqual([]);
});
