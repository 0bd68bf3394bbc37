#!/usr/bin/env bun
// Entry: the citty root command, help with examples, and the mapping of errors to exit codes.
import { defineCommand, renderUsage, runCommand, type CommandDef } from "citty";
import { buildInfo } from "./build-info";
import { provisionCommand, provisionExamples } from "./cli/provision";
import { renderCommand, renderExamples } from "./cli/render";
import { versionCommand, versionExamples } from "./cli/version";
import { ConfigError, EXIT, RunError, errorMessage } from "./errors";
import { TaskFailures } from "./engine/task";

// Each entry is a citty command; the cast erases each one's own argument types.
const commands: Record<string, { cmd: CommandDef; examples: string[] }> = {
  provision: { cmd: provisionCommand as CommandDef, examples: provisionExamples },
  render: { cmd: renderCommand as CommandDef, examples: renderExamples },
  version: { cmd: versionCommand as CommandDef, examples: versionExamples },
};

const main = defineCommand({
  meta: {
    name: "kube-rootfs",
    version: buildInfo.version,
    description: "Prepare a systemd-nspawn machine that boots a Kubernetes worker node",
  },
  subCommands: Object.fromEntries(Object.entries(commands).map(([n, c]) => [n, c.cmd])),
});

const EXIT_CODES_HELP = "EXIT CODES\n  0 ok   1 a run failed   2 bad usage or config";

async function help(name: string | undefined): Promise<string> {
  const entry = name ? commands[name] : undefined;
  const usage = await renderUsage(entry?.cmd ?? main, entry ? main : undefined);
  const examples = entry ? entry.examples : Object.values(commands).flatMap((c) => c.examples.slice(0, 1));
  return `${usage}\n\nEXAMPLES\n${examples.map((e) => `  ${e}`).join("\n")}\n\n${EXIT_CODES_HELP}\n`;
}

/** Print an error as one line per problem (details with --verbose) and pick the exit code. */
function report(err: unknown, verbose: boolean): number {
  const say = (line: string) => process.stderr.write(`kube-rootfs: ${line}\n`);
  if (err instanceof ConfigError) {
    err.lines.forEach(say);
    return EXIT.usage;
  }
  if (err instanceof TaskFailures) {
    for (const f of err.failures) {
      say(`${f.task}: ${errorMessage(f.error)}`);
      if (verbose && f.error instanceof RunError && f.error.detail) process.stderr.write(f.error.detail + "\n");
    }
    return EXIT.failed;
  }
  if (err instanceof Error && (err as { code?: string }).code?.startsWith("E_")) {
    // citty's own usage errors: unknown command, missing argument
    say(`${err.message} (see --help)`);
    return EXIT.usage;
  }
  say(errorMessage(err));
  if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
  return EXIT.failed;
}

export async function cli(argv: string[]): Promise<number> {
  const name = argv.find((a) => !a.startsWith("-"));
  if (argv.includes("--help") || argv.includes("-h") || argv.length === 0) {
    process.stdout.write(await help(name && commands[name] ? name : undefined));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (argv.length === 1 && argv[0] === "--version") argv = ["version"];
  try {
    const { result } = await runCommand(main, { rawArgs: argv });
    return typeof result === "number" ? result : EXIT.ok;
  } catch (err) {
    return report(err, argv.includes("--verbose"));
  }
}

if (import.meta.main) process.exitCode = await cli(process.argv.slice(2));
