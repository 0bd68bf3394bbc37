// Errors are values with context. Each kind maps to one exit code, and prints as one line.

/** Bad usage or configuration: nothing was touched. Exit 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    message: string,
    /** every problem found, one line each */
    readonly lines: string[] = [message],
  ) {
    super(message);
  }
}

/** A run step failed. Exit 1. `detail` is shown with --verbose. */
export class RunError extends Error {
  override name = "RunError";
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** Preconditions the run lacks (readiness blockers), every one listed. Exit 1, a line each. */
export class NotReady extends RunError {
  override name = "NotReady";
  constructor(readonly lines: string[]) {
    super(`not ready: ${lines.join("; ")}`);
  }
}

/** The run was stopped by a signal; exit 128 + its number. */
export class Interrupted extends Error {
  override name = "Interrupted";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export const EXIT = { ok: 0, failed: 1, usage: 2, drift: 3 } as const;

/** The exit code an error ends a run with. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ConfigError) return EXIT.usage;
  if (err instanceof Interrupted) return err.exitCode;
  return EXIT.failed;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Prefix an error's message with context, keeping its class so the exit code survives. */
export function withContext(context: string, err: unknown): Error {
  if (err instanceof ConfigError) return new ConfigError(`${context}: ${err.message}`);
  if (err instanceof RunError) return new RunError(`${context}: ${err.message}`, err.detail);
  if (err instanceof Error && err.name === "AbortError") return err;
  return new RunError(`${context}: ${errorMessage(err)}`);
}
