// Turn a command's parsed arguments into the resolved goal state and a logger.
import type { ArgsDef } from "citty";
import { withLock } from "../bundle/lock";
import { loadGoal, unknownEnvWarnings, type LoadOptions } from "../config/load";
import { machinePaths, resolveGoal, type Resolved } from "../config/resolve";
import { readSavedGoal } from "../config/saved";
import { parseArches } from "../config/arch";
import { createLogger, pickFormat, type Logger } from "../engine/log";
import { writeStderr } from "../engine/stdio";
import { mark } from "../engine/timings";
import { givenGoalFlags } from "./args";
import { checkFlags } from "./flags";

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
  const goal = withLock(resolveGoal(loadGoal(loadOptions(args, rawArgs, overrides))));
  mark("goal");
  return goal;
}

/**
 * The goal the machine's last provision saved, under --config, env and flags (the machine dir
 * is found from those first). Without a saved goal, the same as goalFrom.
 */
export function savedGoalFrom(args: Record<string, unknown>, rawArgs: string[]): { goal: Resolved; savedFrom?: string } {
  const opts = loadOptions(args, rawArgs, {});
  const given = loadGoal(opts);
  const saved = readSavedGoal(machinePaths(given).machineDir);
  const goal = withLock(resolveGoal(saved ? loadGoal({ ...opts, saved }) : given));
  mark("goal");
  return { goal, savedFrom: saved?.path };
}

/** The run's logger, once its inputs are known good; warnings about them go to stderr first (stdout may be a log or a file). */
export async function loggerFor(goal: Resolved, args: Record<string, unknown>): Promise<Logger> {
  for (const w of unknownEnvWarnings(process.env)) writeStderr(`kube-rootfs: warning: ${w}\n`);
  const logger = await createLogger(pickFormat(goal.logFormat), Boolean(args.verbose));
  mark("logger");
  return logger;
}

/** One goal per arch of `--arch a,b` (else KUBE_ROOTFS_ARCH, else the host's), each with `overrides`. */
export function goalsPerArch(args: Record<string, unknown>, rawArgs: string[], overrides: Record<string, string> = {}): Resolved[] {
  const arches = parseArches(typeof args.arch === "string" ? args.arch : undefined, process.env.KUBE_ROOTFS_ARCH);
  const goalArgv = rawArgs.filter((t) => !/^--arch(=|$)/.test(t));
  return (arches ?? [undefined]).map((arch) => goalFrom(args, goalArgv, arch ? { ...overrides, arch } : overrides));
}

export async function setup(args: Record<string, unknown>, rawArgs: string[], defs: ArgsDef): Promise<CommandSetup> {
  checkFlags(rawArgs, defs);
  const goal = goalFrom(args, rawArgs);
  return { goal, logger: await loggerFor(goal, args) };
}
