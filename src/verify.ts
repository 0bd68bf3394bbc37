// verify: compare an existing machine with the goal state, file by file, and list each drift.
import { existsSync, lstatSync, readFileSync, readlinkSync } from "node:fs";
import { installDrift, readManifest } from "./artifacts/manifest";
import { provisionPlan } from "./provision";
import type { Resolved } from "./config/resolve";
import { FILE_MODE, writerOwner } from "./fs/atomic";
import { notAFile, ownershipDrift, type Drift } from "./fs/drift";
import { resolveInside } from "./fs/inside";
import { osFiles } from "./rootfs/os";
import { RESOLVED_MASK, resolvConfContent } from "./rootfs/resolved";
import { nspawnFiles } from "./rootfs/workspace";
import { runtimeFiles, runtimeLinks, staleRuntimeFiles } from "./runtime/files";
import { archiveRel, IMAGES_LINK, IMAGES_RECORD, IMAGES_UNIT_FILE, readImagesRecord } from "./runtime/images";
import { renderImagesUnit } from "./runtime/templates/images";
import { sha256File } from "./fs/hash";
import { readSavedGoal } from "./config/saved";
import { gpuDrift } from "./gpu/record";

export type { Drift } from "./fs/drift";

/** A rendered file against its content and the mode and owner provision writes it with. */
function renderedDrift(path: string, expected: string, mode = FILE_MODE): Drift[] {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return [{ path, expected: `${expected.length} bytes as rendered`, found: "missing" }];
  }
  const other = notAFile(st, () => readlinkSync(path));
  if (other) return [{ path, expected: `${expected.length} bytes as rendered`, found: other }];
  const drifts = ownershipDrift(path, st, { mode, ...writerOwner() });
  const content = readFileSync(path, "utf8");
  if (content !== expected) {
    drifts.push({ path, expected: `${expected.length} bytes as rendered`, found: `different content (${content.length} bytes, first difference at line ${firstDiffLine(content, expected)})` });
  }
  return drifts;
}

function firstDiffLine(a: string, b: string): number {
  const x = a.split("\n");
  const y = b.split("\n");
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  return i + 1;
}

function linkDrift(path: string, target: string, what: string): Drift[] {
  let found = "missing";
  try {
    found = lstatSync(path).isSymbolicLink() ? `symlink to ${readlinkSync(path)}` : "not a symlink";
  } catch {
    // missing
  }
  return found === `symlink to ${target}` ? [] : [{ path, expected: `symlink to ${target} (${what})`, found }];
}

export function configDrift(goal: Resolved): Drift[] {
  const inRoot = (rel: string) => resolveInside(goal.machineDir, rel);
  const rendered: Array<[path: string, content: string, mode?: number]> = [
    ...nspawnFiles(goal),
    ...osFiles(goal).map(([rel, content]): [string, string] => [inRoot(rel), content]),
    [inRoot("etc/resolv.conf"), resolvConfContent(goal)],
  ];
  const runtime = !goal.skipPhases.includes("runtime");
  const files = runtime ? runtimeFiles(goal) : [];
  for (const f of files) rendered.push([inRoot(f.path), f.content, f.mode]);
  const drifts = rendered.flatMap(([path, content, mode]) => renderedDrift(path, content, mode));
  if (runtime) {
    for (const rel of staleRuntimeFiles(goal, files)) drifts.push({ path: inRoot(rel), expected: "absent (not in the goal: a dropped mirror, or GPU support off)", found: "present" });
  }
  const expectLink = (rel: string, target: string, what: string) => drifts.push(...linkDrift(inRoot(rel), target, what));
  expectLink(RESOLVED_MASK, "/dev/null", "systemd-resolved masked");
  for (const l of runtime ? runtimeLinks(goal) : []) expectLink(l.path, l.target, "unit enabled");
  return drifts;
}

/** Installed artifacts against the goal's versions and pins, every file re-hashed and its mode and owner checked. */
export async function artifactDrift(goal: Resolved): Promise<Drift[]> {
  const manifest = readManifest(goal.machineDir);
  const each = await Promise.all(provisionPlan(goal).artifacts.map((plan) => installDrift(goal.machineDir, plan, manifest[plan.entry.name], "sha256")));
  return each.flat();
}

/** The pre-loaded images: the record names the goal's images, each archive re-hashed, the import unit as rendered and enabled. */
export async function imagesDrift(goal: Resolved): Promise<Drift[]> {
  const wanted = provisionPlan(goal).needs().images; // none when --skip-phases leaves out the images task
  if (!wanted.length) return [];
  const inRoot = (rel: string) => resolveInside(goal.machineDir, rel);
  const entries = readImagesRecord(goal.machineDir) ?? [];
  const drifts: Drift[] = [];
  const recorded = entries.map((e) => e.image).sort().join(", ");
  if (recorded !== [...wanted].sort().join(", ")) drifts.push({ path: inRoot(IMAGES_RECORD), expected: `images ${wanted.join(", ")}`, found: recorded ? `images ${recorded}` : "none" });
  for (const e of entries) {
    const path = inRoot(archiveRel(e.archive));
    const sha = existsSync(path) ? await sha256File(path) : "missing";
    if (sha !== e.sha256) drifts.push({ path, expected: `archive of ${e.image} with sha256 ${e.sha256}`, found: sha === "missing" ? sha : `sha256 ${sha}` });
  }
  drifts.push(...renderedDrift(inRoot(IMAGES_UNIT_FILE), renderImagesUnit(entries.map((e) => e.archive))));
  return [...drifts, ...linkDrift(inRoot(IMAGES_LINK.path), IMAGES_LINK.target, "unit enabled")];
}

/**
 * The host's GPU device nodes and driver files against what the last provision bound (when it
 * saved a goal, and GPUs are still wanted: with gpu.mode none the rendered files say the rest).
 */
function hostGpuDrift(goal: Resolved): Drift[] {
  const saved = goal.gpu.mode === "none" ? undefined : readSavedGoal(goal.machineDir);
  return saved ? gpuDrift(goal.gpu, saved.result.gpu) : [];
}

/** Every drift of the machine: configuration files, what it binds from the host, pre-loaded images, then installed artifacts. */
export async function verifyMachine(goal: Resolved): Promise<Drift[]> {
  return [...configDrift(goal), ...hostGpuDrift(goal), ...(await imagesDrift(goal)), ...(await artifactDrift(goal))];
}
