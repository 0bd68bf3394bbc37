// Host drift: how the host differs from what the last provision's host task left (the host
// manifest): a file changed or removed, a kernel value changed back, a swap line active again.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Resolved } from "../config/resolve";
import type { Drift } from "../fs/drift";
import { sha256File } from "../fs/hash";
import { fstabSwapLines } from "../host/swap";
import { readSysctl, sysctlPath } from "../host/sysctl";
import { manifestPath, readHostManifest, type HostManifest } from "./manifest";
import { satisfied } from "./settings";

async function fileDrift(root: string, m: HostManifest): Promise<Drift[]> {
  const each = await Promise.all(
    m.files.map(async (f): Promise<Drift[]> => {
      const path = join(root, f.path);
      const expected = `${f.what}, sha256 ${f.sha256} as the last provision wrote it`;
      if (!existsSync(path)) return [{ path, expected, found: "missing" }];
      const sha = await sha256File(path);
      return sha === f.sha256 ? [] : [{ path, expected, found: `changed (sha256 ${sha})` }];
    }),
  );
  return each.flat();
}

const kernelDrift = (root: string, m: HostManifest): Drift[] =>
  m.sysctls.flatMap((s) => {
    const current = readSysctl(root, s.key);
    if (satisfied(s.rule, s.value, current)) return [];
    const want = s.rule === "at-least" ? `at least ${s.value}` : s.value;
    return [{ path: sysctlPath(root, s.key), expected: `${s.key} ${want} in the running kernel`, found: current === undefined ? "absent" : `${current} (changed back)` }];
  });

function fstabDrift(root: string, m: HostManifest): Drift[] {
  if (!m.fstab) return [];
  const path = join(root, m.fstab.path);
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const all = text.split("\n");
  return fstabSwapLines(text)
    .map((i) => all[i]!)
    .filter((line) => m.fstab!.lines.includes(line))
    .map((line) => ({ path, expected: "swap line commented out (host.swap off)", found: `active again: ${line}` }));
}

/** What the goal's host task keeps, against the host now; nothing when the host task is not in the plan. */
export async function hostDrift(goal: Resolved): Promise<Drift[]> {
  const root = goal.host.root;
  if (!goal.host.sysctls && goal.host.swap !== "off") return [];
  const m = readHostManifest(root);
  if (!m) return [{ path: manifestPath(root), expected: "the host manifest the last provision wrote", found: "missing" }];
  return [...(goal.host.sysctls ? [...(await fileDrift(root, m)), ...kernelDrift(root, m)] : []), ...(goal.host.swap === "off" ? fstabDrift(root, m) : [])];
}
