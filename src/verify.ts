// verify: compare an existing machine with the goal state, file by file, and list each drift.
import { lstatSync, readFileSync, readlinkSync } from "node:fs";
import { MANIFEST, readManifest } from "./artifacts/manifest";
import { provisionPlan } from "./provision";
import type { Resolved } from "./config/resolve";
import { sha256File } from "./fs/hash";
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


/** Installed artifacts against the goal's versions and the manifest's hashes (every file re-hashed). */
export async function artifactDrift(goal: Resolved): Promise<Drift[]> {
  const drifts: Drift[] = [];
  const manifest = readManifest(goal.machineDir);
  const manifestPath = resolveInside(goal.machineDir, MANIFEST);
  for (const plan of provisionPlan(goal).artifacts) {
    const name = plan.entry.name;
    const have = manifest[name];
    const want = `${name} ${plan.version} (${plan.arch})`;
    if (!have) {
      drifts.push({ path: manifestPath, expected: `${want} installed`, found: "not installed" });
      continue;
    }
    if (have.version !== plan.version || have.arch !== plan.arch) drifts.push({ path: manifestPath, expected: want, found: `${name} ${have.version} (${have.arch})` });
    if (plan.pinned && have.sha256 !== plan.pinned) drifts.push({ path: manifestPath, expected: `${name} asset sha256 ${plan.pinned}`, found: have.sha256 });
    for (const f of have.files) {
      const path = resolveInside(goal.machineDir, f.path);
      const found = await sha256File(path).catch(() => "missing");
      if (found !== f.sha256) drifts.push({ path, expected: `sha256 ${f.sha256}`, found: found === "missing" ? found : `sha256 ${found}` });
    }
  }
  return drifts;
}

/** Every drift of the machine: configuration files, then installed artifacts. */
export async function verifyMachine(goal: Resolved): Promise<Drift[]> {
  return [...configDrift(goal), ...(await artifactDrift(goal))];
}
