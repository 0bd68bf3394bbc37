// A registry client for a host, from the goal's download settings (attempts, stall, total time,
// size cap) and the registry access options: credentials file, CA file, insecure hosts.
import { readFileSync } from "node:fs";
import { Limit } from "../artifacts/limit";
import type { Resolved } from "../config/resolve";
import { ConfigError } from "../errors";
import { loadCredentials } from "./auth";
import { Registry } from "./registry";

export interface RegistryAccess {
  /** Docker config.json with credentials (default $DOCKER_CONFIG/config.json, ~/.docker/config.json) */
  auth?: string;
  /** CA certificates (PEM) the registry's certificate is checked against */
  ca?: string;
  /** hosts that may answer over plain HTTP besides loopback */
  insecure: string[];
}

/** Reads the credentials and CA files now, so a bad path is a usage error before any work. */
export function registryConnector(host: string, goal: Resolved, access: RegistryAccess): (signal: AbortSignal) => Registry {
  const credentials = loadCredentials(access.auth);
  let ca: string | undefined;
  if (access.ca) {
    try {
      ca = readFileSync(access.ca, "utf8");
    } catch (err) {
      throw new ConfigError(`--registry-ca ${access.ca}: ${(err as Error).message}`);
    }
  }
  const limit = new Limit(goal.concurrency);
  return (signal) =>
    new Registry(host, {
      signal,
      limit,
      attempts: goal.retries,
      stallMs: goal.timeouts.stall * 1000,
      totalMs: goal.timeouts.total * 1000,
      maxBytes: goal.maxDownloadBytes,
      credentials,
      ca,
      insecure: access.insecure,
    });
}
