// Published checksum files: bare hex (dl.k8s.io, cri-tools) or sha256sum lines with one
// line per asset (containerd, runc, CNI). A file that has no hash for our asset is an error.
import { RunError } from "../errors";
import type { ChecksumFormat } from "./catalog";

const HEX = /^[0-9a-f]{64}$/i;

export function parseChecksum(text: string, format: ChecksumFormat, asset: string, url: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  if (format === "bare" && lines.length === 1) {
    const [hex, name] = lines[0]!.split(/\s+/);
    if (hex && HEX.test(hex) && (!name || name.replace(/^\*/, "") === asset)) return hex.toLowerCase();
  }
  for (const line of lines) {
    const [hex, name, ...rest] = line.split(/\s+/);
    if (hex && HEX.test(hex) && name?.replace(/^\*/, "") === asset && rest.length === 0) return hex.toLowerCase();
  }
  const shown = JSON.stringify(text.slice(0, 60));
  throw new RunError(`checksum file ${url} has no sha256 for ${asset} (starts with ${shown})`);
}
