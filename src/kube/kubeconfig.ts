// A kubeconfig as kubectl reads it: the current context's cluster (server, CA) and user
// (client certificate and key, or a bearer token), each in its data or its file form; relative
// file paths are relative to the kubeconfig's directory. Exec plugins and auth providers run
// programs this tool does not run: refused with one line naming the user entry.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { ConfigError } from "../errors";

/** What a client needs to reach and authenticate to the API server, as PEM text. */
export interface KubeAccess {
  /** the kubeconfig it came from, for messages */
  source: string;
  server: string;
  /** the cluster's CA; absent: the system's roots */
  ca?: string;
  insecure: boolean;
  /** the TLS server name to expect, when not the server's host */
  serverName?: string;
  cert?: string;
  key?: string;
  token?: string;
  /** the user entry's name, for messages */
  user: string;
}

interface Doc {
  "current-context"?: string;
  contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string } }>;
  clusters?: Array<{ name?: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name?: string; user?: Record<string, unknown> }>;
}

export interface ReadOptions {
  /** where a path the kubeconfig names really is (a kubeconfig inside a rootfs names paths inside it) */
  pathOf?: (path: string) => string;
}

/** Parse kubeconfig text; `file` names it in errors and anchors relative paths. */
export function parseKubeconfig(text: string, file: string, opts: ReadOptions = {}): KubeAccess {
  const bad = (what: string) => new ConfigError(`kubeconfig ${file}: ${what}`);
  let doc: Doc;
  try {
    doc = (Bun.YAML.parse(text) ?? {}) as Doc;
  } catch (err) {
    throw bad(`not YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (typeof doc !== "object" || Array.isArray(doc)) throw bad("not a kubeconfig (expected a mapping with clusters, users and contexts)");
  const list = <T extends { name?: string }>(v: T[] | undefined) => (Array.isArray(v) ? v : []);
  const contextName = doc["current-context"];
  const contexts = list(doc.contexts);
  const context = contextName ? contexts.find((c) => c.name === contextName)?.context : contexts.length === 1 ? contexts[0]!.context : undefined;
  if (!context) throw bad(contextName ? `current-context ${contextName} is not among its contexts` : "no current-context");
  const cluster = list(doc.clusters).find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw bad(`cluster ${context.cluster ?? "(none)"} of the current context is not among its clusters`);
  const userName = context.user ?? "";
  const user = list(doc.users).find((u) => u.name === userName)?.user ?? {};

  const server = cluster.server;
  if (typeof server !== "string" || !/^https?:\/\//.test(server)) throw bad(`cluster ${context.cluster}: server is ${server === undefined ? "missing" : `not an http(s) URL: ${server}`}`);
  for (const plugin of ["exec", "auth-provider"]) {
    if (user[plugin] !== undefined) throw bad(`user ${userName} authenticates with ${plugin === "exec" ? "an exec plugin" : "an auth provider"}, which kube-rootfs does not run; give a kubeconfig whose user has a client certificate (client-certificate-data and client-key-data) or a token`);
  }

  const base = dirname(file);
  // A relative path is the kubeconfig's directory's (as it names itself), then mapped by pathOf.
  const fileOf = (p: string) => (opts.pathOf ?? ((x: string) => x))(isAbsolute(p) ? p : join(base, p));
  /** a `<key>-data` (base64) or `<key>` (a file) entry, as text */
  const either = (entry: Record<string, unknown>, key: string, where: string): string | undefined => {
    const data = entry[`${key}-data`];
    if (typeof data === "string" && data) {
      const text = Buffer.from(data, "base64").toString("utf8");
      if (!text.includes("-----BEGIN ")) throw bad(`${where}: ${key}-data is not a base64 PEM block`);
      return text;
    }
    const path = entry[key];
    if (typeof path !== "string" || !path) return undefined;
    try {
      return readFileSync(fileOf(path), "utf8");
    } catch (err) {
      throw bad(`${where}: cannot read ${key} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };

  const access: KubeAccess = {
    source: file,
    server: server.replace(/\/+$/, ""),
    ca: either(cluster, "certificate-authority", `cluster ${context.cluster}`),
    insecure: cluster["insecure-skip-tls-verify"] === true,
    serverName: typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : undefined,
    cert: either(user, "client-certificate", `user ${userName}`),
    key: either(user, "client-key", `user ${userName}`),
    user: userName,
  };
  if (Boolean(access.cert) !== Boolean(access.key)) throw bad(`user ${userName}: a client certificate needs its key (client-certificate and client-key, or their -data forms)`);
  const token = typeof user.token === "string" ? user.token : typeof user.tokenFile === "string" ? readToken(fileOf(user.tokenFile), bad, userName) : undefined;
  if (token) access.token = token;
  if (!access.cert && !access.token) throw bad(`user ${userName} has no client certificate and no token`);
  return access;
}

function readToken(path: string, bad: (w: string) => ConfigError, user: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw bad(`user ${user}: cannot read tokenFile ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

/** Read and parse the kubeconfig at `file` (on the host, or where `pathOf` says). */
export function readKubeconfig(file: string, opts: ReadOptions = {}): KubeAccess {
  let text: string;
  try {
    text = readFileSync((opts.pathOf ?? ((x: string) => x))(file), "utf8");
  } catch (err) {
    throw new ConfigError(`kubeconfig ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseKubeconfig(text, file, opts);
}
