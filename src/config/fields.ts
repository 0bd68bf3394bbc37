// Every leaf of the goal-state schema as a settable field: its path, flag, env name, kind,
// default and description. Flags, env parsing and docs all read this list. It is derived from the
// schema (fields-derive.ts); scripts/build.ts derives it when the executable is built and bakes
// it in (--define), so a start-up that only needs the flags (help, dispatch) never builds the zod
// schema. A run from source derives it as it loads.
import type { SchemaField } from "./fields-derive";

/** The fields as JSON text, baked in by scripts/build.ts. */
declare const KUBE_ROOTFS_FIELDS: string | undefined;

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

export const envName = (flag: string) => ENV_PREFIX + flag.toUpperCase().replace(/-/g, "_");

const derived = (): SchemaField[] => (require("./fields-derive") as typeof import("./fields-derive")).goalFields();

export const FIELDS: readonly Field[] = (typeof KUBE_ROOTFS_FIELDS === "string" ? (JSON.parse(KUBE_ROOTFS_FIELDS) as SchemaField[]) : derived()).map((f) => ({ ...f, env: envName(f.flag) }));
export const fieldByFlag = new Map(FIELDS.map((f) => [f.flag, f]));
