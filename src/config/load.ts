// Merge the goal state from its sources, in rising precedence: built-in defaults < the goal
// saved with the machine (verify) < --config FILE < KUBE_ROOTFS_* env < flags. A bad value anywhere is a ConfigError that names
// the field and the source it came from, before anything is touched.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { TIMINGS_ENV } from "../engine/timings";
import { ConfigError } from "../errors";
import type { z } from "../zod";
import { closest } from "./closest";
import { ENV_PREFIX, FIELDS, type Field } from "./fields";
import type { SavedGoal } from "./saved";
import { GoalSchema, type Goal } from "./schema";

type Raw = Record<string, unknown>;

interface Layer {
  /** how errors name this source for a field: `file:line`, `--flag` or `ENV_VAR` */
  describe(path: string[]): string;
  /** a flag or env var names its field already; a file's errors must add the field path */
  namesField: boolean;
  value: Raw;
  /** the value of a field as written in a file, when it can be found */
  written?(path: string[]): string | undefined;
}

export interface LoadOptions {
  /** the goal a provision saved with the machine: the lowest layer above the defaults */
  saved?: SavedGoal;
  configFile?: string;
  env?: Record<string, string | undefined>;
  /** flag name (without dashes) → raw string/boolean value from the command line */
  flags?: Record<string, string | boolean | undefined>;
}

export function loadGoal(opts: LoadOptions): Goal {
  const layers: Layer[] = [];
  if (opts.saved) layers.push({ value: opts.saved.value, namesField: false, describe: () => opts.saved!.path });
  if (opts.configFile) layers.push(fileLayer(opts.configFile));
  layers.push(stringLayer(opts.env ?? {}, (f) => f.env, (f) => f.env));
  layers.push(stringLayer(opts.flags ?? {}, (f) => f.flag, (f) => `--${f.flag}`));

  const merged: Raw = {};
  for (const layer of layers) deepMerge(merged, layer.value);
  const result = GoalSchema.safeParse(merged, { reportInput: true });
  if (result.success) return result.data;

  const lines = result.error.issues.flatMap((issue) => issueLines(issue, layers));
  throw new ConfigError(lines[0]!, lines);
}

/** KUBE_ROOTFS_* variables that name no setting: a typo there would be ignored without a word. */
export function unknownEnvWarnings(env: Record<string, string | undefined>): string[] {
  const known = [...FIELDS.map((f) => f.env), TIMINGS_ENV];
  return Object.keys(env)
    .filter((k) => k.startsWith(ENV_PREFIX) && !known.includes(k))
    .sort()
    .map((k) => `${k} is not a setting and is ignored (the closest is ${closest(k, known, false)})`);
}

function fileLayer(file: string): Layer {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot read config: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let value: unknown;
  const ext = extname(file).toLowerCase();
  const asJson = ext === ".json" || (ext !== ".yaml" && ext !== ".yml" && /^\s*\{/.test(text));
  try {
    value = asJson ? JSON.parse(text) : Bun.YAML.parse(text);
  } catch (err) {
    const message = (err as Error).message.split("\n")[0]!.replace(/^YAML Parse error: /, "");
    if (asJson) throw new ConfigError(`${file}: not valid JSON: ${message}`);
    const at = yamlErrorAt(text);
    throw new ConfigError(`${file}${at ? `:${at.line}:${at.column}` : ""}: not valid YAML: ${message}`);
  }
  if (value == null) value = {};
  if (typeof value !== "object" || Array.isArray(value)) throw new ConfigError(`${file}: expected a mapping of fields at the top level`);
  return {
    value: value as Raw,
    namesField: false,
    describe: (path) => {
      const line = lineOf(text, path);
      return line ? `${file}:${line}` : file;
    },
    written: (path) => {
      const line = lineOf(text, path);
      return line ? /:\s*([^#]*?)\s*(#.*)?$/.exec(text.split("\n")[line - 1]!)?.[1] : undefined;
    },
  };
}

const parsesAsYaml = (text: string) => {
  try {
    Bun.YAML.parse(text);
    return true;
  } catch {
    return false;
  }
};

/**
 * Where a YAML text stops being valid (Bun's parser does not say): the first line whose text up
 * to it no longer parses, and in it the column after the longest start that still does. An
 * unclosed quote or bracket is found where it opens.
 */
export function yamlErrorAt(text: string): { line: number; column: number } | undefined {
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const before = lines.slice(0, n).join("\n") + (n ? "\n" : "");
    if (parsesAsYaml(before + lines[n])) continue;
    const line = lines[n]!;
    for (let c = line.length - 1; c > 0; c--) if (parsesAsYaml(before + line.slice(0, c))) return { line: n + 1, column: c + 1 };
    return { line: n + 1, column: 1 };
  }
  return undefined;
}

/** Best-effort line of a field in a YAML/JSON text: the first line naming its last key after its parents. */
function lineOf(text: string, path: string[]): number | undefined {
  const lines = text.split("\n");
  let from = 0;
  for (const key of path) {
    const re = new RegExp(`^\\s*(-\\s*)?["']?${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}["']?\\s*:`);
    const i = lines.findIndex((l, n) => n >= from && re.test(l));
    if (i < 0) return from > 0 ? from : undefined;
    from = i + 1;
  }
  return from || undefined;
}

/** Env and flags give strings: convert each to its field's kind, leaving bad text for zod to report. */
function stringLayer(
  source: Record<string, string | boolean | undefined>,
  nameOf: (f: Field) => string,
  label: (f: Field) => string,
): Layer {
  const value: Raw = {};
  const labels = new Map<string, string>();
  for (const field of FIELDS) {
    const raw = source[nameOf(field)];
    if (raw === undefined) continue;
    setAt(value, field.path, convert(field, raw));
    labels.set(field.key, label(field));
  }
  // A map or list field's issue points inside it (runtime.registryMirrors.docker.io.0): name its flag.
  const labelOf = (path: string[]) => path.map((_, n) => labels.get(path.slice(0, path.length - n).join("."))).find(Boolean);
  return { value, namesField: true, describe: (path) => labelOf(path) ?? "" };
}

function convert(field: Field, raw: string | boolean): unknown {
  if (typeof raw === "boolean") return field.kind === "boolean" ? raw : String(raw);
  switch (field.kind) {
    case "boolean":
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      return raw;
    case "number":
    case "integer": {
      const n = Number(raw);
      return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
    }
    case "list":
      return splitList(raw);
    case "map": {
      // key=value pairs; a repeated key collects its values in order (docker.io=a,docker.io=b).
      const pairs = splitList(raw).map((p) => /^([^=]+)=(.+)$/.exec(p));
      if (pairs.some((m) => !m)) return raw;
      const map: Record<string, string[]> = {};
      for (const m of pairs) (map[m![1]!.trim()] ??= []).push(m![2]!.trim());
      return map;
    }
    default:
      return raw;
  }
}

const splitList = (raw: string) =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

function setAt(obj: Raw, path: string[], v: unknown) {
  let o = obj;
  for (const k of path.slice(0, -1)) o = (o[k] ??= {}) as Raw;
  o[path[path.length - 1]!] = v;
}

function deepMerge(into: Raw, from: Raw) {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (isPlain(v) && isPlain(cur)) deepMerge(cur, v);
    else into[k] = isPlain(v) ? deepMerge({}, v) : v;
  }
  return into;
}
const isPlain = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

function issueLines(issue: z.core.$ZodIssue, layers: Layer[]): string[] {
  const paths = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...issue.path.map(String), k]) : [issue.path.map(String)];
  return paths.map((path) => {
    // A cross-field rule about a field nobody set: name the field and its flag.
    if (issue.code === "custom" && !layers.some((l) => hasPath(l.value, path))) {
      const field = FIELDS.find((f) => f.key === path.join("."));
      return `${path.join(".")}: ${issue.message}${field ? ` (--${field.flag})` : ""}`;
    }
    const layer = layerOf(path, layers);
    const what = (issue.code === "unrecognized_keys" ? "unknown field" : describeIssue(issue)) + quoteHint(issue, path, layer?.written?.(path));
    if (!layer) return `defaults: ${path.join(".")}: ${what}`;
    if (layer.namesField) return `${layer.describe(path)}: ${what}`;
    return `${layer.describe(path)}: ${path.join(".") || "(top level)"}: ${what}`;
  });
}

/** The highest-precedence layer that set this path; failing that, the one that set most of it. */
function layerOf(path: string[], layers: Layer[]): Layer | undefined {
  for (let n = path.length; n > 0; n--) {
    for (let i = layers.length - 1; i >= 0; i--) if (hasPath(layers[i]!.value, path.slice(0, n))) return layers[i];
  }
  return undefined;
}

function hasPath(obj: unknown, path: string[]): boolean {
  let o = obj;
  for (const k of path) {
    if (!(isPlain(o) || Array.isArray(o)) || !(k in o)) return false;
    o = (o as Raw)[k];
  }
  return true;
}

/** YAML reads `kubernetes: 1.30` as the number 1.3: say how to keep a version as written. */
function quoteHint(issue: z.core.$ZodIssue, path: string[], written: string | undefined): string {
  const input = (issue as { input?: unknown }).input;
  const isVersion = path[0] === "versions" || path.at(-1) === "version";
  if (issue.code !== "invalid_type" || typeof input !== "number" || !isVersion) return "";
  const text = written && /^[\d.]+$/.test(written) ? written : String(input);
  return ` (YAML reads ${text} as a number; quote it: "${text}")`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  const got = input === undefined ? "nothing" : typeof input === "string" ? JSON.stringify(input) : Array.isArray(input) ? "a list" : input === null ? "null" : typeof input === "object" ? "a mapping" : `${typeof input} ${String(input)}`;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected === "array" ? "a list" : issue.expected}, got ${typeof input === "string" ? got : typeof input === "number" || typeof input === "boolean" ? typeof input : got}`;
    case "invalid_value":
      return `expected ${issue.values.map(String).join("|")}, got ${typeof input === "string" ? input : got}`;
    case "too_small":
    case "too_big":
      return `${issue.message.replace(/^Too (small|big): /, "")}, got ${got}`;
    default:
      return `${issue.message}, got ${got}`;
  }
}
