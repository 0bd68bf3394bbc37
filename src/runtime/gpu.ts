// GPU support's files inside the machine: the CDI spec containerd hands GPUs out by, its
// linker-cache hook, and the unit that rebuilds the machine's own cache at boot (enabled by a
// link). A machine whose goal or host no longer has a GPU loses the ones kube-rootfs wrote.
import { readFileSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import { resolveInside } from "../fs/inside";
import type { FileSpec, LinkSpec } from "../fs/spec";
import { hostRel, linkMatches } from "../fs/target";
import { CDI_SPEC_FILE, LDCACHE_HOOK, renderCdiSpec } from "../gpu/cdi";
import { GPU_LDCONFIG_UNIT, renderGpuLdconfigUnit, renderLdcacheHook } from "../gpu/templates";

const UNIT_FILE = `etc/systemd/system/${GPU_LDCONFIG_UNIT}`;
export const GPU_LINK: LinkSpec = { name: "gpu-ldconfig-enabled", path: `etc/systemd/system/multi-user.target.wants/${GPU_LDCONFIG_UNIT}`, target: `/${UNIT_FILE}` };

export function gpuFiles(goal: Resolved): FileSpec[] {
  const host = goal.gpu.on;
  if (!host) return [];
  return [
    { name: "cdi", path: hostRel(CDI_SPEC_FILE), content: renderCdiSpec(host), mode: 0o644 },
    { name: "cdi-hook", path: hostRel(LDCACHE_HOOK), content: renderLdcacheHook(), mode: 0o755 },
    { name: "gpu-ldconfig-unit", path: UNIT_FILE, content: renderGpuLdconfigUnit(), mode: 0o644 },
  ];
}

export const gpuLinks = (goal: Resolved): LinkSpec[] => (goal.gpu.on ? [GPU_LINK] : []);

const ours = (path: string) => {
  try {
    return readFileSync(path, "utf8").split("\n", 2).some((l) => l.includes("written by kube-rootfs"));
  } catch {
    return false;
  }
};

/** GPU files and the unit's link an earlier provision wrote, when GPU support is now off. */
export function staleGpuFiles(goal: Resolved): string[] {
  if (goal.gpu.on) return [];
  const inRoot = (rel: string) => resolveInside(goal.machineDir, rel);
  const files = [hostRel(CDI_SPEC_FILE), hostRel(LDCACHE_HOOK), UNIT_FILE].filter((rel) => ours(inRoot(rel)));
  return [...files, ...(linkMatches(inRoot(GPU_LINK.path), GPU_LINK.target) ? [GPU_LINK.path] : [])];
}
