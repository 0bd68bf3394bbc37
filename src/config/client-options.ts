// What the goal state asks of the HTTP and registry clients: every download's retries,
// timeouts and size cap.
import type { DownloadOptions } from "../http/download";
import type { Limit } from "../http/limit";
import type { Resolved } from "./resolve";

/** A download steered by the goal's retries, timeouts and size cap. */
export const downloadOptions = (goal: Resolved, signal: AbortSignal, limit: Limit): DownloadOptions => ({
  signal,
  limit,
  attempts: goal.retries,
  stallMs: goal.timeouts.stall * 1000,
  totalMs: goal.timeouts.total * 1000,
  maxBytes: goal.maxDownloadBytes,
});
