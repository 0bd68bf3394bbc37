// The kube, cri and cni tasks: each asks the artifact pipeline to ensure its catalog entries.
import type { Resolved } from "../config/resolve";
import type { Task } from "../engine/task";
import type { InstallGroup } from "./catalog";
import type { ArtifactPipeline } from "./pipeline";
import { planGroup } from "./plan";

export function installTask(group: InstallGroup, goal: Resolved, pipeline: ArtifactPipeline): Task {
  return { name: group, run: (ctx) => pipeline.ensure(planGroup(goal, group), ctx) };
}
