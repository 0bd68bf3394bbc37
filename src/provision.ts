// The provision sequence on one screen: named phases, each a list of tasks run in parallel,
// and the readiness phase that checks what the phases left after --skip-phases need.
// --skip-phases and --dry-run read this same list.
import { INSTALL_GROUPS } from "./artifacts/catalog";
import { ArtifactPipeline } from "./artifacts/pipeline";
import { planGroup, type ArtifactPlan } from "./artifacts/plan";
import { installTask } from "./artifacts/tasks";
import type { Resolved } from "./config/resolve";
import { lockMachine, type MachineLock } from "./engine/lock";
import { parallel, serial, type Outcome, type Task, type TaskContext } from "./engine/task";
import { ConfigError } from "./errors";
import { readinessChecks, readinessTask, runWhenReady, type Needs } from "./readiness";
import { workspaceDecision, type WorkspaceDecision } from "./rootfs/decision";
import { configureOsTask } from "./rootfs/os";
import { recordGoalTask } from "./rootfs/record";
import { disableResolvedTask } from "./rootfs/resolved";
import { ENSURE_WORKSPACE, ensureWorkspaceTask } from "./rootfs/workspace";
import { IMAGES_TASK, imagesTask } from "./runtime/images";
import { runtimeTask } from "./runtime/task";
import { preloadImages } from "./images/preload";
import { HOST_TASK, hostTask } from "./hostprep/task";

export interface Phase {
  name: string;
  tasks: Task[];
}

class Sequence {
  readonly phases: Phase[] = [];
  append(name: string, ...tasks: Task[]): this {
    this.phases.push({ name, tasks });
    return this;
  }
}

export function provisionPhases(goal: Resolved, workspace: () => WorkspaceDecision): Phase[] {
  const artifacts = new ArtifactPipeline(goal);
  return new Sequence()
    // The host's kernel settings and swap, before anything of the machine exists: it must never
    // boot on a host kubelet cannot run on.
    .append("host", hostTask(goal))
    .append("workspace", ensureWorkspaceTask(goal, workspace))
    .append(
      "install",
      installTask("kube", goal, artifacts),
      installTask("cri", goal, artifacts),
      installTask("cni", goal, artifacts),
      configureOsTask(goal),
      disableResolvedTask(goal),
    )
    // After the binaries it configures: a run that fails to install them sets up nothing.
    .append("runtime", runtimeTask(goal), imagesTask(goal))
    .append("record", recordGoalTask(goal)).phases;
}

/** Every name --skip-phases accepts: phase names and task names. */
export const skippableNames = (phases: Phase[]) => [...new Set(phases.flatMap((p) => [p.name, ...p.tasks.map((t) => t.name)]))];

/** Drop skipped phases and tasks; an unknown name is a usage error (a typo must not run everything). */
export function withoutSkipped(phases: Phase[], skip: string[]): Phase[] {
  const known = skippableNames(phases);
  const unknown = skip.filter((s) => !known.includes(s));
  if (unknown.length) throw new ConfigError(`--skip-phases: unknown ${unknown.join(", ")} (known: ${known.join(", ")})`);
  return phases
    .filter((p) => !skip.includes(p.name))
    .map((p) => ({ ...p, tasks: p.tasks.filter((t) => !skip.includes(t.name)) }))
    .filter((p) => p.tasks.length > 0);
}

export interface ProvisionPlan {
  /** the phases left after --skip-phases */
  phases: Phase[];
  /** whether a task of that name is in those phases */
  runs(task: string): boolean;
  /** the artifacts those phases install */
  artifacts: ArtifactPlan[];
  /** what those phases need of the host */
  needs(): Needs;
  /** checks every need: first in a real run (before the lock), last in a dry run (after the plan) */
  readiness: Task;
  /** the phases, one after the other */
  work: Task;
}

export function provisionPlan(goal: Resolved): ProvisionPlan {
  const workspace = workspaceDecision(goal);
  const phases = withoutSkipped(provisionPhases(goal, workspace), goal.skipPhases);
  const runs = (task: string) => phases.some((p) => p.tasks.some((t) => t.name === task));
  const artifacts = INSTALL_GROUPS.filter(runs).flatMap((g) => planGroup(goal, g));
  const images = runs(IMAGES_TASK) ? preloadImages(goal) : [];
  const needs = (): Needs => ({ root: true, workspace: runs(ENSURE_WORKSPACE) ? workspace : undefined, artifacts, images, boots: true, host: runs(HOST_TASK) });
  return {
    phases,
    runs,
    artifacts,
    needs,
    readiness: readinessTask(() => readinessChecks(goal, needs())),
    work: serial("provision", phases.map((p) => parallel(p.name, p.tasks))),
  };
}


/**
 * Run the plan as provision does: readiness first, then the machine's lock (held until the work
 * ends), then the phases. A dry run takes no lock: it writes nothing.
 */
export async function provisionMachine(goal: Resolved, plan: ProvisionPlan, ctx: Omit<TaskContext, "log">): Promise<Outcome> {
  let lock: MachineLock | undefined;
  try {
    return await runWhenReady(plan.readiness, plan.work, ctx, () => (lock = lockMachine(goal.machine)));
  } finally {
    lock?.release();
  }
}
