// A byte job's failure as it crosses between the main thread and a byte worker, and back into an error.
import { abortError } from "../engine/task";
import { RunError } from "../errors";
import { BadContent } from "./unpack";

/** Its message, whether the bytes themselves are bad, whether the run was interrupted. */
export interface Failure {
  message: string;
  bad: boolean;
  aborted?: boolean;
}

export const failureOf = (err: unknown): Failure => ({
  message: err instanceof Error ? err.message : String(err),
  bad: err instanceof BadContent,
  ...((err as Error)?.name === "AbortError" ? { aborted: true } : {}),
});

export const errorOf = (f: Failure) => (f.aborted ? abortError() : f.bad ? new BadContent(f.message) : new RunError(f.message));
