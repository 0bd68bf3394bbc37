// Turn a command's parsed arguments into the resolved goal state and a logger.
import type { ArgsDef } from "citty";
import { withLock } from "../bundle/lock";
import { loadGoal } from "../config/load";
import { resolveGoal, type Resolved } from "../config/resolve";
import { ARCHES, type Arch } from "../config/schema";
import { ConfigError } from "../errors";
import { createLogger, pickFormat, type Logger } from "../engine/log";
import { checkFlags, givenGoalFlags } from "./args";

export interface CommandSetup {
  goal: Resolved;
  logger: Logger;
}

/** The goal from defaults < --config < env < flags < `overrides`, resolved, with its --lock applied. */
export function goalFrom(args: Record<string, unknown>, rawArgs: string[], overrides: Record<string, string> = {}): Resolved {
  const goal = resolveGoal(
    loadGoal({
      configFile: typeof args.config === "string" ? args.config : undefined,
      env: process.env,
      flags: { ...givenGoalFlags(args, rawArgs), ...overrides },
    }),
  );
  return withLock(goal);
}

function archList(value: unknown): Arch[] | undefined {
  const raw = typeof value === "string" ? value : process.env.KUBE_ROOTFS_ARCH;
  if (!raw) return undefined;
  const list = [...new Set(raw.split(",").map((a) => a.trim()).filter(Boolean))];
  const bad = list.filter((a) => !(ARCHES as readonly string[]).includes(a));
  if (bad.length || !list.length) throw new ConfigError(`--arch: expected a list of ${ARCHES.join("|")}, got ${raw}`);
  return list as Arch[];
}

/** One goal per `--arch` in a comma-separated list (default: the host's), each with `overrides`. */
export function goalsPerArch(args: Record<string, unknown>, rawArgs: string[], overrides: Record<string, string> = {}): Resolved[] {
  const goalArgv = rawArgs.filter((t) => !/^--arch(=|$)/.test(t));
  return (archList(args.arch) ?? [undefined]).map((arch) => goalFrom(args, goalArgv, arch ? { ...overrides, arch } : overrides));
}

export const loggerFor = (goal: Resolved, args: Record<string, unknown>) => createLogger(pickFormat(goal.logFormat), Boolean(args.verbose));

export async function setup(args: Record<string, unknown>, rawArgs: string[], defs: ArgsDef): Promise<CommandSetup> {
  checkFlags(rawArgs, defs);
  const goal = goalFrom(args, rawArgs);
  return { goal, logger: await loggerFor(goal, args) };
}
