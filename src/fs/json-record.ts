// A small JSON record kube-rootfs keeps on the host (the slot record, the host manifest): read
// back from a file anyone may edit, so every way it can be wrong is one line naming the file.
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors";
import type { z } from "../zod";

/**
 * The record at `path`, checked against `schema`; undefined when there is none yet. `what` names
 * it ("the slot record"), `why` says what it is for (shown when it is not JSON).
 */
export function readJsonRecord<T>(path: string, schema: z.ZodMiniType<T>, what: string, why: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`${path}: cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path}: ${what} is not JSON; fix or remove it (${why})`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${path}: ${what}'s ${issue.path.join(".") || "top level"} is invalid: ${issue.message}`);
  }
  return parsed.data;
}
