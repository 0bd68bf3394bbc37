// The kube, cri and cni tasks: each asks the artifact pipeline to ensure its catalog entries.
import type { Resolved } from "../config/resolve";
import { RunError } from "../errors";
import type { Task } from "../engine/task";

export type InstallGroup = "kube" | "cri" | "cni";

export function installTask(group: InstallGroup, _goal: Resolved): Task {
  return {
    name: group,
    async run() {
      throw new RunError(`${group}: artifact installs are not available in this build; skip them with --skip-phases ${group}`);
    },
  };
}
