// The citty root command, help with examples, and the mapping of errors to exit codes.
import { defineCommand, renderUsage, runCommand, type CommandDef } from "citty";
import { buildInfo } from "../build-info";
import { ConfigError, EXIT, Interrupted, RunError, errorMessage } from "../errors";
import { TaskFailures } from "../engine/task";

interface Loaded {
  cmd: CommandDef;
  examples: string[];
}

// Commands load on demand: start-up only pays for the one that runs (`version` needs no zod).
// The casts erase each command's own argument types.
const commands: Record<string, () => Promise<Loaded>> = {
  fetch: () => import("./fetch").then((m) => ({ cmd: m.fetchCommand as CommandDef, examples: m.fetchExamples })),
  image: () => import("./image").then((m) => ({ cmd: m.imageCommand as CommandDef, examples: m.imageExamples })),
  doctor: () => import("./doctor").then((m) => ({ cmd: m.doctorCommand as CommandDef, examples: m.doctorExamples })),
  provision: () => import("./provision").then((m) => ({ cmd: m.provisionCommand as CommandDef, examples: m.provisionExamples })),
  render: () => import("./render").then((m) => ({ cmd: m.renderCommand as CommandDef, examples: m.renderExamples })),
  verify: () => import("./verify").then((m) => ({ cmd: m.verifyCommand as CommandDef, examples: m.verifyExamples })),
  version: () => import("./version").then((m) => ({ cmd: m.versionCommand as CommandDef, examples: m.versionExamples })),
};

/** Every command, loaded: for help and for checks that the docs name real flags. */
export async function allCommands(): Promise<Record<string, Loaded>> {
  const entries = await Promise.all(Object.entries(commands).map(async ([n, load]) => [n, await load()] as const));
  return Object.fromEntries(entries);
}

const main = defineCommand({
  meta: {
    name: "kube-rootfs",
    version: buildInfo.version,
    description: "Prepare a systemd-nspawn machine that boots a Kubernetes worker node",
  },
  subCommands: Object.fromEntries(Object.entries(commands).map(([n, load]) => [n, () => load().then((c) => c.cmd)])),
});

const EXIT_CODES_HELP = "EXIT CODES\n  0 ok   1 a run failed   2 bad usage or config   3 verify found drift";

async function help(name: string | undefined): Promise<string> {
  const entry = name ? await commands[name]!() : undefined;
  const usage = await renderUsage(entry?.cmd ?? main, entry ? main : undefined);
  const all = entry ? [] : Object.values(await allCommands());
  const examples = entry ? entry.examples : all.flatMap((c) => c.examples.slice(0, 1));
  return `${usage}\n\nEXAMPLES\n${examples.map((e) => `  ${e}`).join("\n")}\n\n${EXIT_CODES_HELP}\n`;
}

/** Print an error as one line per problem (details with --verbose) and pick the exit code. */
function report(err: unknown, verbose: boolean): number {
  const say = (line: string) => process.stderr.write(`kube-rootfs: ${line}\n`);
  if (err instanceof ConfigError) {
    err.lines.forEach(say);
    return EXIT.usage;
  }
  if (err instanceof Interrupted) {
    say(err.message);
    return err.exitCode;
  }
  if (err instanceof TaskFailures) {
    for (const f of err.failures) {
      say(`${f.task}: ${errorMessage(f.error)}`);
      if (verbose && f.error instanceof RunError && f.error.detail) process.stderr.write(f.error.detail + "\n");
    }
    return EXIT.failed;
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
    // Dispatch here rather than through citty's subCommands, which drop the command's result
    // (the exit code of verify and doctor).
    const at = argv.findIndex((a) => !a.startsWith("-"));
    const load = at >= 0 ? commands[argv[at]!] : undefined;
    if (!load) throw new ConfigError(at >= 0 ? `unknown command ${argv[at]} (commands: ${Object.keys(commands).join(", ")})` : "no command given (see --help)");
    const { result } = await runCommand((await load()).cmd, { rawArgs: [...argv.slice(0, at), ...argv.slice(at + 1)] });
    return typeof result === "number" ? result : EXIT.ok;
  } catch (err) {
    return report(err, argv.includes("--verbose"));
  }
}
