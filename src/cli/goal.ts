// Turn a command's parsed arguments into the resolved goal state and a logger.
import type { ArgsDef } from "citty";
import { withLock } from "../bundle/lock";
import { loadGoal, type LoadOptions } from "../config/load";
import { machinePaths, resolveGoal, type Resolved } from "../config/resolve";
import { readSavedGoal } from "../config/saved";
import { createLogger, pickFormat, type Logger } from "../engine/log";
import { checkFlags, givenGoalFlags } from "./args";

export interface CommandSetup {
  goal: Resolved;
  logger: Logger;
}

const loadOptions = (args: Record<string, unknown>, rawArgs: string[], overrides: Record<string, string>): LoadOptions => ({
  configFile: typeof args.config === "string" ? args.config : undefined,
  env: process.env,
  flags: { ...givenGoalFlags(args, rawArgs), ...overrides },
});

/** The goal from defaults < --config < env < flags < `overrides`, resolved, with its --lock applied. */
export function goalFrom(args: Record<string, unknown>, rawArgs: string[], overrides: Record<string, string> = {}): Resolved {
  return withLock(resolveGoal(loadGoal(loadOptions(args, rawArgs, overrides))));
}

/**
 * The goal the machine's last provision saved, under --config, env and flags (the machine dir
 * is found from those first). Without a saved goal, the same as goalFrom.
 */
export function savedGoalFrom(args: Record<string, unknown>, rawArgs: string[]): { goal: Resolved; savedFrom?: string } {
  const opts = loadOptions(args, rawArgs, {});
  const saved = readSavedGoal(machinePaths(loadGoal(opts)).machineDir);
  return { goal: withLock(resolveGoal(loadGoal({ ...opts, saved }))), savedFrom: saved?.path };
}

export const loggerFor = (goal: Resolved, args: Record<string, unknown>) => createLogger(pickFormat(goal.logFormat), Boolean(args.verbose));

export async function setup(args: Record<string, unknown>, rawArgs: string[], defs: ArgsDef): Promise<CommandSetup> {
  checkFlags(rawArgs, defs);
  const goal = goalFrom(args, rawArgs);
  return { goal, logger: await loggerFor(goal, args) };
}
