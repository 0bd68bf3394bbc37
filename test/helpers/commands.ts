// Check that documented command lines use commands and flags the CLI really has.
import { allCommands } from "../../src/cli/root";

/** Every command line running `kube-rootfs <command> …` (or a dist executable) in a text. */
export const commandLines = (text: string) =>
  [...text.matchAll(/(?:^\s*|&& |sudo |\/)kube-rootfs(?:-linux-x64|-linux-arm64)? ([a-z]+[^\n`|>]*)/gm)].map((m) => m[1]!);

/** Problems with those lines: an unknown command or flag, one string each. */
export async function unknownFlags(lines: string[]): Promise<string[]> {
  const commands = await allCommands();
  return lines.flatMap((line) => {
    const name = line.split(" ")[0]!;
    const cmd = commands[name];
    if (!cmd) return [`${line}: no command ${name}`];
    const known = new Set(["help", ...Object.keys(cmd.cmd.args ?? {})]);
    return [...line.matchAll(/--([a-z0-9-]+)/g)]
      .map((m) => m[1]!)
      .filter((f) => !known.has(f) && !(f.startsWith("no-") && known.has(f.slice(3)))) // --no-X negates a boolean, as citty reads it
      .map((f) => `${line}: --${f}`);
  });
}
