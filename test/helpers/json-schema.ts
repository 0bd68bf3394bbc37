// A JSON Schema (draft-07) validator for the subset the CDI schema uses: type, properties,
// required, items, minimum, maximum and $ref into a set of named documents. `strict` also
// refuses properties an object schema does not name, as the CDI loaders refuse unknown fields.
type Schema = Record<string, unknown>;

export interface SchemaSet {
  /** documents by file name; refs are "#/…" (same document) or "file.json#/…" */
  docs: Record<string, Schema>;
  strict?: boolean;
}

function resolve(set: SchemaSet, doc: string, ref: string): { doc: string; schema: Schema } {
  const [file, pointer = ""] = ref.split("#");
  const target = file || doc;
  let node: unknown = set.docs[target];
  if (!node) throw new Error(`$ref ${ref}: no document ${target}`);
  for (const part of pointer.split("/").filter(Boolean)) node = (node as Schema)[part];
  if (!node) throw new Error(`$ref ${ref}: nothing at ${pointer}`);
  return { doc: target, schema: node as Schema };
}

const typeOf = (v: unknown) => (Array.isArray(v) ? "array" : v === null ? "null" : Number.isInteger(v) ? "integer" : typeof v);

/** Every violation, each as `path: what`; none when `value` is valid. */
export function validate(set: SchemaSet, doc: string, schema: Schema, value: unknown, at = "$"): string[] {
  if (typeof schema.$ref === "string") {
    const r = resolve(set, doc, schema.$ref);
    return validate(set, r.doc, r.schema, value, at);
  }
  const errors: string[] = [];
  const type = schema.type as string | undefined;
  if (type) {
    const actual = typeOf(value);
    if (!(actual === type || (type === "number" && actual === "integer"))) return [`${at}: expected ${type}, got ${actual}`];
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...validate(set, doc, schema.items as Schema, v, `${at}[${i}]`)));
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in obj)) errors.push(`${at}: missing required ${key}`);
    for (const [key, v] of Object.entries(obj)) {
      if (props[key]) errors.push(...validate(set, doc, props[key], v, `${at}.${key}`));
      else if (schema.additionalProperties === false || (set.strict && schema.properties)) errors.push(`${at}: unknown property ${key}`);
    }
  }
  return errors;
}
