// Bootstrap an empty machine dir into a rootfs.
import type { Resolved } from "../../config/resolve";
import { RunError } from "../../errors";
import type { TaskContext } from "../../engine/task";

export async function bootstrapRootfs(goal: Resolved, _ctx: TaskContext): Promise<void> {
  throw new RunError(
    `bootstrap method ${goal.bootstrap.method} is not available in this build; bring a rootfs with --bootstrap-method none`,
  );
}
