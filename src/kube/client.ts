// The Kubernetes API client: JSON requests to the server a kubeconfig names, authenticated by
// its client certificate (or token) over TLS checked against its CA, each bounded by a timeout.
// A failure is one line naming the request and the server's own reason.
import { RunError } from "../errors";
import { USER_AGENT } from "../http/download";
import { fetchTls, withTimeout } from "../http/fetch-options";
import type { KubeAccess } from "./kubeconfig";

/** An answer the caller handles itself (an eviction's 429, a pod's 404). */
export interface Answer<T = any> {
  status: number;
  body: T;
}

/** kube-apiserver's Status: why a request failed. */
export interface ApiStatus {
  message?: string;
  reason?: string;
  details?: { causes?: Array<{ reason?: string; message?: string }> };
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  /** statuses returned to the caller instead of thrown (2xx always are) */
  expect?: number[];
  signal?: AbortSignal;
}

export class KubeClient {
  constructor(
    readonly access: KubeAccess,
    /** per request */
    readonly timeoutMs = 15_000,
  ) {}

  /** What the messages call this server. */
  get where(): string {
    return this.access.server;
  }

  async request<T = any>(method: string, path: string, o: RequestOptions = {}): Promise<Answer<T>> {
    const a = this.access;
    const what = `${method} ${path} on ${a.server}`;
    const headers: Record<string, string> = { accept: "application/json", "user-agent": USER_AGENT };
    if (o.body !== undefined) headers["content-type"] = o.contentType ?? "application/json";
    if (a.token) headers.authorization = `Bearer ${a.token}`;
    let res: Response;
    try {
      res = await fetch(`${a.server}${path}`, {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        signal: withTimeout(o.signal, this.timeoutMs),
        tls: await fetchTls({ ca: a.ca, caOnly: true, cert: a.cert, key: a.key, insecure: a.insecure, serverName: a.serverName }),
      });
    } catch (err) {
      if (o.signal?.aborted) throw err;
      const e = err as Error & { code?: string };
      if (e.name === "TimeoutError" || e.name === "AbortError") throw new RunError(`kube API ${what}: no answer within ${this.timeoutMs / 1000}s`);
      const tls = /certificate|CERT|SSL|TLS|handshake/i.test(`${e.code} ${e.message}`);
      throw new RunError(`kube API ${what}: ${e.message}${tls ? ` (check the CA and client certificate of ${a.source})` : ""}`);
    }
    const text = await res.text();
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    if (res.ok || o.expect?.includes(res.status)) return { status: res.status, body };
    const reason = (body as ApiStatus | undefined)?.message ?? (typeof body === "string" ? body.slice(0, 200) : res.statusText);
    const hint = res.status === 401 ? ` (the server did not accept the credentials of user ${a.user} in ${a.source})` : res.status === 403 ? ` (user ${a.user} in ${a.source} lacks the RBAC for it)` : "";
    throw new RunError(`kube API ${what}: ${res.status} ${reason}${hint}`);
  }

  get<T = any>(path: string, o?: RequestOptions) {
    return this.request<T>("GET", path, o).then((r) => r.body);
  }
}
