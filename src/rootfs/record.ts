// record-goal: save the goal as given with the machine, last, so a bare `verify` checks the
// machine against what its last successful provision was asked for, and what it bound from the host.
import { SAVED_GOAL, savedGoalText, type ProvisionResult } from "../config/saved";
import type { Resolved } from "../config/resolve";
import { gpuRecord } from "../gpu/record";
import type { Task } from "../engine/task";
import { Target } from "../fs/target";

/** What this provision found on the host and bound, kept for verify. */
export function provisionResult(goal: Resolved): ProvisionResult {
  const gpu = gpuRecord(goal.gpu);
  return gpu ? { gpu } : {};
}

export function recordGoalTask(goal: Resolved): Task {
  return {
    name: "record-goal",
    async run(ctx) {
      // 0600: mirror URLs may carry credentials.
      const result = await new Target(goal.machineDir, ctx).writeFile(SAVED_GOAL, savedGoalText(goal.given, provisionResult(goal)), 0o600);
      return result === "written" ? "completed" : "skipped";
    },
  };
}
