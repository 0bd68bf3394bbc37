// Command-line options: the goal-state flags derived from the schema's fields, plus the few
// options that steer a run rather than describe the machine.
import type { ArgsDef } from "citty";
import { ConfigError } from "../errors";
import { FIELDS } from "../config/fields";

const hint = (kind: string, values?: string[]) =>
  values ? values.join("|") : kind === "list" ? "a,b" : kind === "map" ? "key=value,…" : kind === "number" || kind === "integer" ? "n" : kind === "boolean" ? undefined : "value";

export const goalArgs: ArgsDef = Object.fromEntries(
  FIELDS.map((f) => [
    f.flag,
    {
      type: f.kind === "boolean" ? "boolean" : "string",
      description: `${f.description}${f.default !== undefined && !(Array.isArray(f.default) && !f.default.length) ? ` (default ${Array.isArray(f.default) ? f.default.join(",") : String(f.default)})` : ""} [${f.env}]`,
      ...(hint(f.kind, f.values) ? { valueHint: hint(f.kind, f.values) } : {}),
    },
  ]),
);

export const commonArgs = {
  config: { type: "string", description: "goal-state file, JSON or YAML", valueHint: "file" },
  verbose: { type: "boolean", description: "log debug lines and error details" },
} as const satisfies ArgsDef;

/** `--timeout SECONDS` of the commands that wait on the machine. */
export const timeoutArg = (seconds: number) =>
  ({ timeout: { type: "string", description: `seconds to wait for the machine (default ${seconds})`, valueHint: "seconds" } }) as const satisfies ArgsDef;

/** The --timeout value in milliseconds, or a usage error naming what was given. */
export function timeoutMs(value: unknown, seconds: number): number {
  return value === undefined ? seconds * 1000 : secondsOf("--timeout", value);
}

/** A flag's seconds, in milliseconds, or a usage error naming the flag and what was given. */
export function secondsOf(flag: string, value: unknown): number {
  const n = typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n > 0)) throw new ConfigError(`${flag}: expected seconds greater than 0, got ${String(value)}`);
  return n * 1000;
}

/** The raw flag values the user gave, by flag name, for the goal-state fields. */
export function givenGoalFlags(parsed: Record<string, unknown>, rawArgs: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  const given = new Set(rawArgs.map((t) => /^--(?:no-)?([^=]+)/.exec(t)?.[1]).filter(Boolean));
  for (const f of FIELDS) {
    if (!given.has(f.flag)) continue;
    const v = parsed[f.flag];
    if (typeof v === "string" || typeof v === "boolean") out[f.flag] = v;
    else if (v === undefined) throw new ConfigError(`--${f.flag}: expected a value`);
  }
  return out;
}

/** The options of the commands that update a node through its two machine slots. */
export const slotArgs = {
  slots: { type: "string", description: "the host's two machine slots (default kube1,kube2)", valueHint: "a,b" },
  record: { type: "string", description: "the slot record (default /var/lib/kube-rootfs/slots.json)", valueHint: "file" },
} as const satisfies ArgsDef;
