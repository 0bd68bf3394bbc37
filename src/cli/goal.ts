// Turn a command's parsed arguments into the resolved goal state and a logger.
import type { ArgsDef } from "citty";
import { loadGoal } from "../config/load";
import { resolveGoal, type Resolved } from "../config/resolve";
import { createLogger, pickFormat, type Logger } from "../engine/log";
import { checkFlags, givenGoalFlags } from "./args";

export interface CommandSetup {
  goal: Resolved;
  logger: Logger;
}

export async function setup(args: Record<string, unknown>, rawArgs: string[], defs: ArgsDef): Promise<CommandSetup> {
  checkFlags(rawArgs, defs);
  const goal = resolveGoal(
    loadGoal({
      configFile: typeof args.config === "string" ? args.config : undefined,
      env: process.env,
      flags: givenGoalFlags(args, rawArgs),
    }),
  );
  return { goal, logger: await createLogger(pickFormat(goal.logFormat), Boolean(args.verbose)) };
}
