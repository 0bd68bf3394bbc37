// record-goal: save the goal as given with the machine, last, so a bare `verify` checks the
// machine against what its last successful provision was asked for.
import { SAVED_GOAL, savedGoalText } from "../config/saved";
import type { Resolved } from "../config/resolve";
import type { Task } from "../engine/task";
import { Target } from "../fs/target";

export function recordGoalTask(goal: Resolved): Task {
  return {
    name: "record-goal",
    async run(ctx) {
      // 0600: mirror URLs may carry credentials.
      const result = await new Target(goal.machineDir, ctx).writeFile(SAVED_GOAL, savedGoalText(goal.given), 0o600);
      return result === "written" ? "completed" : "skipped";
    },
  };
}
