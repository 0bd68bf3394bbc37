// The provision sequence on one screen: named phases, each a list of tasks run in parallel.
// --skip-phases and --dry-run read this same list.
import type { Resolved } from "./config/resolve";
import { ConfigError } from "./errors";
import { parallel, serial, type Task } from "./engine/task";
import { ArtifactPipeline } from "./artifacts/pipeline";
import { offlineCheckTask } from "./bundle/offline";
import { installTask } from "./artifacts/tasks";
import { configureOsTask } from "./rootfs/os";
import { recordGoalTask } from "./rootfs/record";
import { disableResolvedTask } from "./rootfs/resolved";
import { ensureWorkspaceTask } from "./rootfs/workspace";
import { runtimeTask } from "./runtime/task";

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
  appendWhen(when: boolean, name: string, ...tasks: Task[]): this {
    return when ? this.append(name, ...tasks) : this;
  }
}

export function provisionPhases(goal: Resolved): Phase[] {
  const artifacts = new ArtifactPipeline(goal);
  return new Sequence()
    .appendWhen(goal.offline, "offline-check", offlineCheckTask(goal))
    .append("workspace", ensureWorkspaceTask(goal))
    .append(
      "install",
      installTask("kube", goal, artifacts),
      installTask("cri", goal, artifacts),
      installTask("cni", goal, artifacts),
      configureOsTask(goal),
      disableResolvedTask(goal),
    )
    // After the binaries it configures: a run that fails to install them sets up nothing.
    .append("runtime", runtimeTask(goal))
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

export function provisionTask(goal: Resolved): Task {
  const phases = withoutSkipped(provisionPhases(goal), goal.skipPhases);
  return serial(
    "provision",
    phases.map((p) => (p.tasks.length === 1 ? p.tasks[0]! : parallel(p.name, p.tasks))),
  );
}
