// The registry client's options from the goal state: the downloads' limits, the credentials
// file, the CA file and the hosts allowed plain HTTP. Shared by pulls and pushes.
import { readFileSync } from "node:fs";
import { Limit } from "../http/limit";
import type { Resolved } from "../config/resolve";
import { ConfigError } from "../errors";
import { loadCredentials } from "../oci/auth";
import type { RegistryOptions } from "../oci/registry";

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
    signal,
    limit: new Limit(goal.concurrency),
    attempts: goal.retries,
    stallMs: goal.timeouts.stall * 1000,
    totalMs: goal.timeouts.total * 1000,
    maxBytes: goal.maxDownloadBytes,
    credentials: loadCredentials(goal.registry.auth),
    ca: readCA(goal.registry.ca),
    insecure: goal.registry.insecure,
  };
}

