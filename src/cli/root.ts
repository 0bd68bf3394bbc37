// Dispatch to a command (loaded on demand), help and version, and the mapping of errors to exit codes.
import type { ArgsDef, CommandDef } from "citty";
import { buildInfo } from "../build-info";
import { ConfigError, EXIT, Interrupted, NotReady, RunError, errorMessage, exitCodeOf } from "../errors";
import { TaskFailures } from "../engine/task";
import { printLines, writeStderr } from "../engine/stdio";
import { mark } from "../engine/timings";
import { parseArgs } from "./flags";
import type { HelpEntry } from "./help";
import { versionCommand, versionExamples } from "./version";

interface Loaded {
  cmd: CommandDef;
  examples: string[];
  /** the goal-state settings its --help lists (see help.ts); all when absent */
  uses?: readonly string[];
}

// Commands load on demand: start-up only pays for the one that runs. Each chunk loaded on demand
// costs about a millisecond, so `version` (a few lines) and the flag parser every command runs
// are part of the entry itself. The casts erase each command's own argument types.
const commands: Record<string, () => Promise<Loaded>> = {
  provision: () => import("./provision").then((m) => ({ cmd: m.provisionCommand as CommandDef, examples: m.provisionExamples })),
  fetch: () => import("./fetch").then((m) => ({ cmd: m.fetchCommand as CommandDef, examples: m.fetchExamples, uses: m.fetchUses })),
  image: () => import("./image").then((m) => ({ cmd: m.imageCommand as CommandDef, examples: m.imageExamples })),
  reset: () => import("./reset").then((m) => ({ cmd: m.resetCommand as CommandDef, examples: m.resetExamples, uses: m.resetUses })),
  remove: () => import("./remove").then((m) => ({ cmd: m.removeCommand as CommandDef, examples: m.removeExamples, uses: m.removeUses })),
  start: () => import("./start").then((m) => ({ cmd: m.startCommand as CommandDef, examples: m.startExamples, uses: m.startUses })),
  stop: () => import("./stop").then((m) => ({ cmd: m.stopCommand as CommandDef, examples: m.stopExamples, uses: m.stopUses })),
  upgrade: () => import("./upgrade").then((m) => ({ cmd: m.upgradeCommand as CommandDef, examples: m.upgradeExamples })),
  rollback: () => import("./rollback").then((m) => ({ cmd: m.rollbackCommand as CommandDef, examples: m.rollbackExamples, uses: m.rollbackUses })),
  status: () => import("./status").then((m) => ({ cmd: m.statusCommand as CommandDef, examples: m.statusExamples, uses: m.statusUses })),
  verify: () => import("./verify").then((m) => ({ cmd: m.verifyCommand as CommandDef, examples: m.verifyExamples, uses: m.verifyUses })),
  render: () => import("./render").then((m) => ({ cmd: m.renderCommand as CommandDef, examples: m.renderExamples, uses: m.renderUses })),
  doctor: () => import("./doctor").then((m) => ({ cmd: m.doctorCommand as CommandDef, examples: m.doctorExamples, uses: m.doctorUses })),
  version: async () => ({ cmd: versionCommand as CommandDef, examples: versionExamples }),
};

/** Every command, loaded: for help and for checks that the docs name real flags. */
export async function allCommands(): Promise<Record<string, Loaded>> {
  const entries = await Promise.all(Object.entries(commands).map(async ([n, load]) => [n, await load()] as const));
  return Object.fromEntries(entries);
}

const describe = (cmd: CommandDef) => (cmd.meta as { description?: string } | undefined)?.description ?? "";

/** What `help <name>` (and docs/cli.md) shows of a loaded command. */
export function helpEntry(name: string, { cmd, examples, uses }: Loaded): HelpEntry {
  return { name, description: describe(cmd), args: (cmd.args ?? {}) as ArgsDef, examples, ...(uses ? { uses } : {}) };
}

async function unknownCommand(name: string): Promise<ConfigError> {
  const { didYouMean } = await import("../config/closest");
  return new ConfigError(`unknown command ${name}${didYouMean(name, Object.keys(commands))} (commands: ${Object.keys(commands).join(", ")})`);
}

/** The whole CLI's help, or one command's. */
async function help(name: string | undefined): Promise<string> {
  const { commandHelp, mainHelp } = await import("./help");
  if (name) return commandHelp(helpEntry(name, await commands[name]!()));
  const all = await allCommands();
  const list = Object.entries(all).map(([n, c]) => ({ name: n, description: describe(c.cmd), example: c.examples[0] }));
  return mainHelp(list, buildInfo.version);
}

/** Print an error as one line per problem (details with --verbose) and pick the exit code. */
function report(err: unknown, verbose: boolean): number {
  const say = (line: string) => writeStderr(`kube-rootfs: ${line}\n`);
  if (err instanceof ConfigError || err instanceof Interrupted) {
    (err instanceof ConfigError ? err.lines : [err.message]).forEach(say);
    return exitCodeOf(err);
  }
  if (err instanceof NotReady) {
    err.lines.forEach((line) => say(`readiness: ${line}`));
    return EXIT.failed;
  }
  if (err instanceof TaskFailures) {
    for (const f of err.failures) {
      say(`${f.task}: ${errorMessage(f.error)}`);
      if (verbose && f.error instanceof RunError && f.error.detail) writeStderr(f.error.detail + "\n");
    }
    return EXIT.failed;
  }
  say(errorMessage(err));
  if (verbose && err instanceof Error && err.stack) writeStderr(err.stack + "\n");
  return EXIT.failed;
}

/** Run a command with its arguments parsed (flags.ts: as citty would, without loading it). */
async function run(cmd: CommandDef, rawArgs: string[]): Promise<unknown> {
  const args = parseArgs(rawArgs, (cmd.args ?? {}) as ArgsDef) as unknown as Parameters<NonNullable<CommandDef["run"]>>[0]["args"];
  return cmd.run?.({ rawArgs, args, cmd, data: undefined });
}

export async function cli(argv: string[]): Promise<number> {
  try {
    const at = argv.findIndex((a) => !a.startsWith("-"));
    const name = at >= 0 ? argv[at]! : undefined;
    if (argv.length === 0) {
      printLines(await help(undefined));
      return EXIT.usage;
    }
    if (name === "help") {
      const topic = argv.slice(at + 1).find((a) => !a.startsWith("-"));
      if (topic && !commands[topic]) throw await unknownCommand(topic);
      printLines(await help(topic));
      return EXIT.ok;
    }
    if (name !== undefined && !commands[name]) throw await unknownCommand(name);
    if (argv.includes("--help") || argv.includes("-h")) {
      printLines(await help(name));
      return EXIT.ok;
    }
    if (name === undefined && (argv.includes("--version") || argv.includes("-V"))) return cli(["version"]);
    if (name === undefined) throw new ConfigError("no command given (see --help)");
    // Dispatch here rather than through citty's subCommands, which drop the command's result
    // (the exit code of verify and doctor).
    const { cmd } = await commands[name]!();
    mark("command");
    const result = await run(cmd, [...argv.slice(0, at), ...argv.slice(at + 1)]);
    return typeof result === "number" ? result : EXIT.ok;
  } catch (err) {
    return report(err, argv.includes("--verbose"));
  }
}
