// The one decision about a machine's workspace: its rootfs is present, or the machine dir is
// created empty (method none), restored from a snapshot or a tarball, or bootstrapped; or the
// machine dir cannot be read (not root, say), which readiness reports as a blocker.
// Readiness checks what the decision needs; ensure-workspace carries it out.
import { existsSync, readdirSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import { errorMessage } from "../errors";
import { ioError } from "../fs/atomic";
import { rootfsSource, type RootfsSource } from "./bootstrap";

export type WorkspaceDecision = { kind: "present" } | { kind: "create" } | { kind: "unreadable"; problem: string } | RootfsSource;

/** Missing, or a directory with nothing in it. */
export function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw ioError(`read machine dir ${dir}`, err);
  }
}

export function decideWorkspace(goal: Resolved, exists: (p: string) => boolean = existsSync): WorkspaceDecision {
  let empty: boolean;
  try {
    empty = isEmptyDir(goal.machineDir);
  } catch (err) {
    return { kind: "unreadable", problem: errorMessage(err) };
  }
  if (!empty) return { kind: "present" };
  if (goal.bootstrap.method === "none") return { kind: "create" };
  return rootfsSource(goal, exists);
}

/** A decision taken on first use and then kept, so readiness and the task that acts on it share it. */
export function decidedOnce<T>(decide: () => T): () => T {
  let decided: { value: T } | undefined;
  return () => (decided ??= { value: decide() }).value;
}

export const workspaceDecision = (goal: Resolved) => decidedOnce(() => decideWorkspace(goal));
