// verify: compare an existing machine with the goal state, file by file, and list each drift.
import { existsSync, lstatSync, readFileSync, readlinkSync } from "node:fs";
import { installDrift, readManifest } from "./artifacts/manifest";
import { provisionPlan } from "./provision";
import type { Resolved } from "./config/resolve";
import { FILE_MODE, writerOwner } from "./fs/atomic";
import { notAFile, ownershipDrift, type Drift } from "./fs/drift";
import { resolveInside } from "./fs/inside";
import { renderedFiles } from "./rendered";
import { runtimeFiles, staleRuntimeFiles } from "./runtime/files";
import { archiveRel, IMAGES_RECORD, readImagesRecord } from "./runtime/images";
import { RUNTIME_TASK } from "./runtime/task";
import { sha256File } from "./fs/hash";
import { readSavedGoal } from "./config/saved";
import { gpuDrift } from "./gpu/record";
import { hostDrift } from "./hostprep/drift";
import { HOST_TASK } from "./hostprep/task";

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

/** Every file and link provision writes from a template (as render prints them), and what it should have removed. */
export function configDrift(goal: Resolved): Drift[] {
  // The host's own files are hostDrift's: against the manifest of what provision wrote there.
  const drifts = renderedFiles(goal, { host: false }).flatMap((r) => {
    if (r.kind === "file") return renderedDrift(r.path, r.content, r.mode);
    // A link to /dev/null is how systemd masks a unit.
    if (r.kind === "link") return linkDrift(r.path, r.target, r.target === "/dev/null" ? "masked" : "unit enabled");
    return []; // pending: the images unit of images not pulled yet, which imagesDrift names
  });
  if (provisionPlan(goal).runs(RUNTIME_TASK)) {
    const stale = staleRuntimeFiles(goal, runtimeFiles(goal));
    for (const rel of stale) drifts.push({ path: resolveInside(goal.machineDir, rel), expected: "absent (not in the goal: a dropped mirror, or GPU support off)", found: "present" });
  }
  return drifts;
}

/** Installed artifacts against the goal's versions and pins, every file re-hashed and its mode and owner checked. */
export async function artifactDrift(goal: Resolved): Promise<Drift[]> {
  const manifest = readManifest(goal.machineDir);
  const each = await Promise.all(provisionPlan(goal).artifacts.map((plan) => installDrift(goal.machineDir, plan, manifest[plan.entry.name], "sha256")));
  return each.flat();
}

/** The pre-loaded images: the record names the goal's images, each archive re-hashed (configDrift checks the import unit). */
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
  return drifts;
}

/**
 * The host's GPU device nodes and driver files against what the last provision bound (when it
 * saved a goal, and GPUs are still wanted: with gpu.mode none the rendered files say the rest).
 */
function hostGpuDrift(goal: Resolved): Drift[] {
  const saved = goal.gpu.mode === "none" ? undefined : readSavedGoal(goal.machineDir);
  return saved ? gpuDrift(goal.gpu, saved.result.gpu) : [];
}

/** What the host task keeps on the host (its files, the running kernel's values, fstab), when the plan has it. */
const hostTaskDrift = (goal: Resolved): Promise<Drift[]> => (provisionPlan(goal).runs(HOST_TASK) ? hostDrift(goal) : Promise.resolve([]));

/** Every drift of the machine: configuration files, what it binds from the host, the host itself, pre-loaded images, then installed artifacts. */
export async function verifyMachine(goal: Resolved): Promise<Drift[]> {
  return [...configDrift(goal), ...hostGpuDrift(goal), ...(await hostTaskDrift(goal)), ...(await imagesDrift(goal)), ...(await artifactDrift(goal))];
}
