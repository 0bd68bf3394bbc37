// verify: compare an existing machine with the goal state, file by file, and list each drift.
import { lstatSync, readFileSync, readlinkSync } from "node:fs";
import { MANIFEST, readManifest } from "./artifacts/manifest";
import { plannedInstalls } from "./artifacts/plan";
import type { Resolved } from "./config/resolve";
import { sha256File } from "./fs/hash";
import { resolveInside } from "./fs/inside";
import { osFiles } from "./rootfs/os";
import { RESOLVED_MASK, resolvConfContent } from "./rootfs/resolved";
import { nspawnFiles } from "./rootfs/workspace";
import { RUNTIME_LINKS, runtimeFiles, staleRuntimeFiles } from "./runtime/files";

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
  const runtime = !goal.skipPhases.includes("runtime");
  if (runtime) {
    const files = runtimeFiles(goal);
    for (const f of files) expectFile(inRoot(f.path), f.content);
    for (const rel of staleRuntimeFiles(goal.machineDir, files)) drifts.push({ path: inRoot(rel), expected: "absent (not in runtime.registryMirrors)", found: "present" });
  }
  const expectLink = (rel: string, target: string, what: string) => {
    const path = inRoot(rel);
    let link: string | undefined;
    try {
      link = readlinkSync(path);
    } catch {
      // missing or not a link
    }
    if (link !== target) drifts.push({ path, expected: `symlink to ${target} (${what})`, found: link ? `symlink to ${link}` : describeFile(path, "") ?? "empty file" });
  };
  expectLink(RESOLVED_MASK, "/dev/null", "systemd-resolved masked");
  if (runtime) for (const l of RUNTIME_LINKS) expectLink(l.path, l.target, "unit enabled");
  return drifts;
}


/** Installed artifacts against the goal's versions and the manifest's hashes (every file re-hashed). */
export async function artifactDrift(goal: Resolved): Promise<Drift[]> {
  const drifts: Drift[] = [];
  const manifest = readManifest(goal.machineDir);
  const manifestPath = resolveInside(goal.machineDir, MANIFEST);
  for (const plan of plannedInstalls(goal)) {
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
