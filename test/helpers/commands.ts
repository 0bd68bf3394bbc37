// Documented command lines checked as the CLI would take them, without running them: a known
// command, flags it knows (its own unknown-flag check, src/cli/flags.ts), arguments it parses.
import type { ArgsDef } from "citty";
import { checkFlags, parseArgs } from "../../src/cli/flags";
import { allCommands } from "../../src/cli/root";
import { errorMessage } from "../../src/errors";

/** The fenced code blocks of a markdown text, each with its shell line continuations joined. */
export const fencedBlocks = (markdown: string): string[] =>
  [...markdown.matchAll(/^\s*```[^\n]*\n([\s\S]*?)^\s*```/gm)].map((m) => m[1]!.replace(/\\\n\s*/g, " "));

// `kube-rootfs` (or a dist executable, or either under a path or sudo) where a shell command starts:
// a line, or after ;, &&, |, ( as in <(…), or a quote as in YAML's [sh, -c, "…"]; not as an argument.
// Its arguments run to the end of the command: a shell operator, a redirection, a quote or a comment.
const COMMAND = /(?:^|[;&|("])[ \t]*(?:sudo\s+)?(?:[\w./-]*\/)?kube-rootfs(?:-linux-(?:x64|arm64))?[ \t]+([^\n;&|)#<>"]*)/gm;

/** Every `kube-rootfs …` command in a markdown text's fenced blocks, as its arguments. */
export const commandLines = (markdown: string): string[] =>
  fencedBlocks(markdown).flatMap((block) => [...block.matchAll(COMMAND)].map((m) => m[1]!.trim().replace(/\s+\d$/, "").replace(/\s+/g, " "))); // `2>&1` leaves its fd

/** Arguments as a shell splits them: on blanks, quotes kept together and removed. */
const words = (line: string) => (line.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^(["'])(.*)\1$/, "$2"));

/** What the CLI would refuse in each line (a command's arguments), one string per problem. */
export async function cliProblems(lines: string[]): Promise<string[]> {
  const commands = await allCommands();
  return lines.flatMap((line) => {
    const argv = words(line);
    const at = argv.findIndex((a) => !a.startsWith("-")); // as src/cli/root.ts finds the command
    const name = argv[at];
    if (name === undefined) return argv.every((a) => ["--help", "-h", "--version", "-V"].includes(a)) ? [] : [`${line}: no command`];
    if (name === "help") return !argv[at + 1] || commands[argv[at + 1]!] ? [] : [`${line}: no command ${argv[at + 1]}`];
    const cmd = commands[name];
    if (!cmd) return [`${line}: no command ${name}`];
    const rawArgs = [...argv.slice(0, at), ...argv.slice(at + 1)];
    const args = (cmd.cmd.args ?? {}) as ArgsDef; // every command defines its args as an object
    try {
      checkFlags(rawArgs, args);
      parseArgs(rawArgs, args);
      return [];
    } catch (err) {
      return [`${line}: ${errorMessage(err)}`];
    }
  });
}
