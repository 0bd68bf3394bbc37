// runtime: containerd and kubelet set up inside the rootfs, their units enabled.
import type { Resolved } from "../config/resolve";
import type { Task } from "../engine/task";
import { Target } from "../fs/target";
import { runtimeFiles, runtimeLinks, staleRuntimeFiles } from "./files";

export const RUNTIME_TASK = "runtime";

export function runtimeTask(goal: Resolved): Task {
  return {
    name: RUNTIME_TASK,
    async run(ctx) {
      const root = new Target(goal.machineDir, ctx);
      const files = runtimeFiles(goal);
      const results = await Promise.all([
        ...files.map((f) => root.writeFile(f.path, f.content, f.mode)),
        ...runtimeLinks(goal).map((l) => root.symlink(l.path, l.target)),
        ...staleRuntimeFiles(goal, files).map((rel) => root.remove(rel)),
      ]);
      return results.includes("written") ? "completed" : "skipped";
    },
  };
}
