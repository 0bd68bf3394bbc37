// Registry credentials and challenges: basic credentials from a Docker config.json
// (`auths[host].auth` = base64 user:password), and the WWW-Authenticate header parsed.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../errors";

export interface Credentials {
  username: string;
  password: string;
}

export type CredentialStore = (host: string) => Credentials | undefined;

/** The config.json a Docker client would read: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultAuthFile(env: Record<string, string | undefined> = process.env): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, "config.json") : join(env.HOME || homedir(), ".docker", "config.json");
}

// Docker Hub's credentials live under its v1 URL.
const hostKeys = (host: string) => (host === "docker.io" ? ["https://index.docker.io/v1/", "docker.io", "index.docker.io"] : [host, `https://${host}`, `http://${host}`]);

/**
 * Credentials by registry host from a config.json. A named file that is missing or unreadable
 * is a usage error; the default file may be absent (anonymous pulls).
 */
export function loadCredentials(file: string | undefined): CredentialStore {
  const path = file ?? defaultAuthFile();
  if (!file && !existsSync(path)) return () => undefined;
  let auths: Record<string, { auth?: string; username?: string; password?: string }>;
  try {
    auths = (JSON.parse(readFileSync(path, "utf8")) as { auths?: typeof auths }).auths ?? {};
  } catch (err) {
    throw new ConfigError(`registry.auth ${path}: not a readable Docker config.json (${(err as Error).message})`);
  }
  return (host) => {
    const entry = hostKeys(host)
      .map((k) => auths[k] ?? auths[k.replace(/\/+$/, "")])
      .find(Boolean);
    if (!entry) return undefined;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (!entry.auth) return undefined;
    const plain = Buffer.from(entry.auth, "base64").toString("utf8");
    const i = plain.indexOf(":");
    if (i < 0) throw new ConfigError(`registry.auth ${path}: auths["${host}"].auth is not base64 of user:password`);
    return { username: plain.slice(0, i), password: plain.slice(i + 1) };
  };
}

export const basicHeader = (c: Credentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="…",service="…",scope="…"` as scheme and parameters (quoted values may hold commas). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}
