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

/** A command's parsed arguments: options by name, positionals by name and, all of them, in `_`. */
export interface ParsedArgs {
  _: string[];
  [name: string]: string | boolean | string[] | undefined;
}

/**
 * A command's arguments as citty's parser reads them (node:util's parseArgs, not strict) for the
 * kinds of argument the commands have: `--x v` or `--x=v` (a string option takes the next word
 * whatever it is; last, it is ""), switches (`--x`, `--x=false`, `--no-x`, the last one given
 * wins), defaults, positionals in order, and everything after `--` a positional. citty's own
 * parser would load node:util and derive camelCase aliases of every option: more start-up than a
 * warm run's work. Call checkFlags first: an unknown flag never gets here.
 */
export function parseArgs(rawArgs: string[], defs: ArgsDef): ParsedArgs {
  const out: ParsedArgs = { _: [] };
  for (const [name, def] of Object.entries(defs)) if (def.type !== "positional" && def.default !== undefined) out[name] = def.default as string | boolean;
  for (let i = 0; i < rawArgs.length; i++) {
    const token = rawArgs[i]!;
    if (token === "--") {
      out._.push(...rawArgs.slice(i + 1));
      break;
    }
    const m = /^--(no-)?([^=]+)(?:=([\s\S]*))?$/.exec(token);
    if (!m) {
      // -h and other short switches are read by root.ts or refused by checkFlags; "-" is a word.
      if (!/^-./.test(token)) out._.push(token);
      continue;
    }
    const [, no, name, value] = m as unknown as [string, string | undefined, string, string | undefined];
    if (no) out[name] = false;
    else if (defs[name]?.type === "string") out[name] = value ?? rawArgs[++i] ?? "";
    else if (defs[name]?.type === "boolean") out[name] = value !== "false";
    else out[name] = value ?? true;
  }
  const positionals = [...out._];
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== "positional") continue;
    const value = positionals.shift() ?? (def.default as string | undefined);
    if (value === undefined && (def as { required?: boolean }).required !== false) throw new ConfigError(`missing argument <${(def as { valueHint?: string }).valueHint ?? name}> (see --help)`);
    out[name] = value;
  }
  return out;
}
