// The archive unpacker inflating on a zlib thread (a cache file's bytes): a sender faster than
// it is held back (its input never piles up in memory), and what it stages is still exactly the
// archive's file.
import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CATALOG } from "../../src/artifacts/catalog";
import { archiveUnpacker, loadTar } from "../../src/artifacts/unpack";
import { tempDir } from "../helpers/tmp";

test("a tar.gz fed faster than it inflates: the sender is told to wait, and the staged file is whole", async () => {
  const tree = tempDir("archive-src");
  // Incompressible, so the compressed stream is as long as the file.
  const body = new Uint8Array(8 << 20);
  for (let o = 0; o < body.length; o += 65536) crypto.getRandomValues(body.subarray(o, o + 65536));
  writeFileSync(join(tree, "crictl"), body);
  const tar = Bun.spawnSync(["tar", "--create", "--gzip", "--file=-", `--directory=${tree}`, "crictl"], { stdout: "pipe" });
  const gz = new Uint8Array(tar.stdout);

  const root = tempDir("archive-root");
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  await loadTar();
  const payload = CATALOG.crictl.payload;
  if (payload.kind !== "archive") throw new Error("crictl is an archive");
  const unpacker = archiveUnpacker(payload, { root, dir: "usr/local/bin", source: "test.tar.gz", maxBytes: 1 << 30 }, "thread");
  let waits = 0;
  for (let o = 0; o < gz.length; o += 65536) {
    const wait = unpacker.write(gz.subarray(o, o + 65536));
    if (wait) {
      waits++;
      await wait;
    }
  }
  const [staged] = await unpacker.end();
  expect(waits).toBeGreaterThan(0);
  expect(staged!.sha256).toBe(new Bun.CryptoHasher("sha256").update(body).digest("hex"));
  expect(readFileSync(staged!.temp).equals(Buffer.from(body))).toBe(true);
});
