// What the goal state asks of the HTTP and registry clients: every download's retries,
// timeouts and size cap; for a registry also the downloads' limit, the credentials file, the
// CA file and the hosts allowed plain HTTP. Shared by pulls (images, the image bootstrap) and pushes.
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors";
import type { DownloadOptions } from "../http/download";
import { Limit } from "../http/limit";
import { loadCredentials } from "../oci/auth";
import type { RegistryOptions } from "../oci/registry";
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

function readCA(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`registry.ca ${file}: not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export function registryOptions(goal: Resolved, signal: AbortSignal): RegistryOptions {
  return {
    ...downloadOptions(goal, signal, new Limit(goal.concurrency)),
    credentials: loadCredentials(goal.registry.auth),
    ca: readCA(goal.registry.ca),
    insecure: goal.registry.insecure,
  };
}
