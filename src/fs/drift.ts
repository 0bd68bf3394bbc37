// Drift: one way a file differs from what was written, in words a report line can show.
import type { Stats } from "node:fs";

export interface Drift {
  path: string;
  expected: string;
  found: string;
}

/** Permission bits and owner a file must have. */
export interface Ownership {
  mode: number;
  uid: number;
  gid: number;
}

const octal = (mode: number) => mode.toString(8).padStart(4, "0");

/** A file's mode and owner against what it was written with: one drift per difference. */
export function ownershipDrift(path: string, st: Stats, want: Ownership): Drift[] {
  const drifts: Drift[] = [];
  const mode = st.mode & 0o7777;
  if (mode !== want.mode) drifts.push({ path, expected: `mode ${octal(want.mode)}`, found: `mode ${octal(mode)}` });
  if (st.uid !== want.uid || st.gid !== want.gid) drifts.push({ path, expected: `owner ${want.uid}:${want.gid}`, found: `owner ${st.uid}:${st.gid}` });
  return drifts;
}

/** What is at a path that should be a regular file, when it is not one. */
export function notAFile(st: Stats, link: () => string): string | undefined {
  if (st.isSymbolicLink()) return `symlink to ${link()}`;
  return st.isFile() ? undefined : "not a regular file";
}
