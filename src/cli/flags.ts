// Unknown flags are refused (citty passes them through silently), naming the nearest real one.
// Kept apart from args.ts so that `version` does not build the schema's flags to check its own.
import type { ArgsDef } from "citty";
import { didYouMean } from "../config/closest";
import { ConfigError } from "../errors";

/** Refuse flags no command knows: citty passes them through silently. */
export function checkFlags(rawArgs: string[], args: ArgsDef): void {
  const known = new Set(["help", "h", ...Object.keys(args)]);
  for (const [i, token] of rawArgs.entries()) {
    if (token === "--") break;
    const m = /^--?([^=]+)/.exec(token);
    if (!m) continue;
    const name = m[1]!;
    if (known.has(name) || (name.startsWith("no-") && known.has(name.slice(3)))) {
      // citty reads `--offline false` as --offline and a stray "false": the opposite of what was meant.
      const next = rawArgs[i + 1];
      if (args[name]?.type === "boolean" && !token.includes("=") && (next === "true" || next === "false")) {
        throw new ConfigError(`--${name} ${next}: a switch takes no separate value; write --${name}=${next}${next === "false" ? ` or --no-${name}` : ""}`);
      }
      continue;
    }
    throw new ConfigError(`--${name}: unknown flag${didYouMean(name, Object.keys(args), (c) => `--${c}`)} (see --help)`);
  }
}

/**
 * The switches of a command whose options are all switches, as citty would parse them
 * (`--x`, `--x=true|false`, `--no-x`; the last one given wins). Call checkFlags first.
 */
export function parseSwitches(rawArgs: string[], args: ArgsDef): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const token of rawArgs) {
    if (token === "--") break;
    const m = /^--(no-)?([^=]+)(?:=(true|false))?$/.exec(token);
    if (!m || args[m[2]!]?.type !== "boolean") continue;
    out[m[2]!] = m[1] ? false : m[3] !== "false";
  }
  return out;
}
