// A cache dir whose image layout holds the test's busybox image (amd64) under each name given,
// as a fetch leaves it: an offline provision pre-loads them without a registry.
import { mkdirSync } from "node:fs";
import { expect } from "bun:test";
import { imagesLayout } from "../../src/images/preload";
import { busyboxImage } from "./oci";
import { tempDir } from "./tmp";

export async function cacheHolding(names: string[]): Promise<string> {
  const cacheDir = tempDir("images-cache");
  const layout = imagesLayout(cacheDir);
  mkdirSync(layout.dir, { recursive: true });
  const tar = Bun.spawnSync(["tar", "-x", "-f", await busyboxImage("localhost/x:1", "amd64"), "-C", layout.dir]);
  expect(tar.exitCode).toBe(0);
  const top = layout.index().manifests[0]!;
  for (const name of names) await layout.tag(name, top);
  return cacheDir;
}
