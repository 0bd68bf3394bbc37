// Published checksum files: bare hex (dl.k8s.io, cri-tools) or sha256sum lines `hex  name`
// (containerd, runc and CNI; runc's one file lists every asset). A file named after its asset
// may also hold one lone hash (some mirrors rewrite checksum files that way). A file that has no
// hash for our asset is an error.
import { RunError } from "../errors";
import type { CatalogEntry } from "./catalog";

const HEX = /^[0-9a-f]{64}$/i;

/** A checksum file named after its asset (`{asset}.sha256`) is about that asset alone. */
const coversOneAsset = (entry: CatalogEntry) => entry.checksum.path.includes("{asset}");

export function parseChecksum(text: string, entry: CatalogEntry, asset: string, url: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  if (lines.length === 1 && HEX.test(lines[0]!) && coversOneAsset(entry)) return lines[0]!.toLowerCase();
  for (const line of lines) {
    const [hex, name, ...rest] = line.split(/\s+/);
    if (hex && HEX.test(hex) && name?.replace(/^\*/, "") === asset && rest.length === 0) return hex.toLowerCase();
  }
  const shown = JSON.stringify(text.slice(0, 60));
  throw new RunError(`checksum file ${url} has no sha256 for ${asset} (starts with ${shown})`);
}
