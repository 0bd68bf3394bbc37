// Every leaf of the goal-state schema as a settable field: its path, flag, env name, kind,
// default and description. Flags, env parsing and docs all read this list.
import { z } from "zod";
import { GoalSchema } from "./schema";

export type FieldKind = "string" | "number" | "integer" | "boolean" | "list" | "enum";

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

interface JsonNode {
  type?: string | string[];
  enum?: string[];
  properties?: Record<string, JsonNode>;
  items?: JsonNode;
  description?: string;
  flag?: string;
  anyOf?: JsonNode[];
}

function kindOf(node: JsonNode): FieldKind {
  if (node.enum) return "enum";
  if (node.type === "array") return "list";
  if (node.type === "boolean") return "boolean";
  if (node.type === "integer") return "integer";
  if (node.type === "number") return "number";
  return "string";
}

function valueAt(obj: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function collect(node: JsonNode, path: string[], defaults: unknown, out: Field[]) {
  if (node.type === "object" && node.properties) {
    for (const [k, child] of Object.entries(node.properties)) collect(child, [...path, k], defaults, out);
    return;
  }
  const flag = node.flag ?? path.map((p) => kebab(p)).join("-");
  out.push({
    path,
    key: path.join("."),
    flag,
    env: envName(flag),
    kind: kindOf(node),
    ...(node.enum ? { values: node.enum } : {}),
    description: node.description ?? "",
    default: valueAt(defaults, path),
  });
}

function buildFields(): Field[] {
  const json = z.toJSONSchema(GoalSchema, { io: "input", unrepresentable: "any" }) as JsonNode;
  const out: Field[] = [];
  collect(json, [], GoalSchema.parse({}), out);
  return out;
}

export const FIELDS: readonly Field[] = buildFields();
export const fieldByFlag = new Map(FIELDS.map((f) => [f.flag, f]));
