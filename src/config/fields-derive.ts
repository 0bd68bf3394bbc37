// The fields of fields.ts, derived from the zod schema: by scripts/build.ts when the executable is
// built (and when a source run loads fields.ts), never at the executable's start-up.
import { z } from "../zod";
import type { Field, FieldKind } from "./fields";
import { GoalSchema } from "./schema";

const kebab = (s: string) => s.replace(/URL/g, "Url").replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();

/** A field as the schema says it; fields.ts adds its env name. */
export type SchemaField = Omit<Field, "env">;

type Schema = z.core.$ZodType;

/** Strip optional/default/prefault wrappers and transforms down to the schema of the value. */
function innermost(schema: Schema): Schema {
  let s = schema;
  for (;;) {
    if (s instanceof z.core.$ZodOptional || s instanceof z.core.$ZodDefault || s instanceof z.core.$ZodPrefault) s = s._zod.def.innerType;
    else if (s instanceof z.core.$ZodPipe) s = s._zod.def.in;
    else return s;
  }
}

/** A number checked by z.int(): that check's def has the format safeint. */
const isInt = (s: z.core.$ZodNumber) => (s._zod.def.checks ?? []).some((c) => (c._zod.def as { format?: string }).format?.includes("int"));

function kindOf(s: Schema): FieldKind {
  if (s instanceof z.core.$ZodEnum) return "enum";
  if (s instanceof z.core.$ZodArray) return "list";
  if (s instanceof z.core.$ZodRecord) return "map";
  if (s instanceof z.core.$ZodBoolean) return "boolean";
  if (s instanceof z.core.$ZodNumber) return isInt(s) ? "integer" : "number";
  return "string";
}

function valueAt(obj: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function collect(schema: Schema, path: string[], defaults: unknown, out: SchemaField[]) {
  const inner = innermost(schema);
  if (inner instanceof z.core.$ZodObject) {
    for (const [k, child] of Object.entries(inner._zod.def.shape)) collect(child as Schema, [...path, k], defaults, out);
    return;
  }
  const meta = (z.globalRegistry.get(schema) ?? {}) as { flag?: string; description?: string };
  const flag = meta.flag ?? path.map((p) => kebab(p)).join("-");
  out.push({
    path,
    key: path.join("."),
    flag,
    kind: kindOf(inner),
    ...(inner instanceof z.core.$ZodEnum ? { values: [...inner._zod.values].map(String) } : {}),
    description: meta.description ?? "",
    default: valueAt(defaults, path),
  });
}

/** Every leaf of the goal schema as a field: plain data. */
export function goalFields(): SchemaField[] {
  const out: SchemaField[] = [];
  collect(GoalSchema, [], GoalSchema.parse({}), out);
  return out;
}
