// Every leaf of the goal-state schema as a settable field: its path, flag, env name, kind,
// default and description. Flags, env parsing and docs all read this list.
import { z } from "zod";
import { GoalSchema } from "./schema";

export type FieldKind = "string" | "number" | "integer" | "boolean" | "list" | "enum" | "map";

export interface Field {
  path: string[];
  /** dotted path as written in a config file: bootstrap.suite */
  key: string;
  /** flag name without dashes: bootstrap-suite */
  flag: string;
  env: string;
  kind: FieldKind;
  values?: string[];
  description: string;
  default?: unknown;
}

export const ENV_PREFIX = "KUBE_ROOTFS_";

const kebab = (s: string) => s.replace(/URL/g, "Url").replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
export const envName = (flag: string) => ENV_PREFIX + flag.toUpperCase().replace(/-/g, "_");

type Schema = z.core.$ZodType;

/** Strip optional/default/prefault wrappers and transforms down to the schema of the value. */
function innermost(schema: Schema): Schema {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodPrefault) s = s.unwrap();
    else if (s instanceof z.ZodPipe) s = s.in;
    else return s;
  }
}

function kindOf(s: Schema): FieldKind {
  if (s instanceof z.ZodEnum) return "enum";
  if (s instanceof z.ZodArray) return "list";
  if (s instanceof z.ZodRecord) return "map";
  if (s instanceof z.ZodBoolean) return "boolean";
  if (s instanceof z.ZodNumber) return s.isInt ? "integer" : "number";
  return "string";
}

function valueAt(obj: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), obj);
}

// Walks zod's classes directly rather than z.toJSONSchema(): this runs on every start-up.
function collect(schema: Schema, path: string[], defaults: unknown, out: Field[]) {
  const inner = innermost(schema);
  if (inner instanceof z.ZodObject) {
    for (const [k, child] of Object.entries(inner.shape)) collect(child as Schema, [...path, k], defaults, out);
    return;
  }
  const meta = (z.globalRegistry.get(schema) ?? {}) as { flag?: string; description?: string };
  const flag = meta.flag ?? path.map((p) => kebab(p)).join("-");
  out.push({
    path,
    key: path.join("."),
    flag,
    env: envName(flag),
    kind: kindOf(inner),
    ...(inner instanceof z.ZodEnum ? { values: inner.options.map(String) } : {}),
    description: meta.description ?? "",
    default: valueAt(defaults, path),
  });
}

function buildFields(): Field[] {
  const out: Field[] = [];
  collect(GoalSchema, [], GoalSchema.parse({}), out);
  return out;
}

export const FIELDS: readonly Field[] = buildFields();
export const fieldByFlag = new Map(FIELDS.map((f) => [f.flag, f]));
