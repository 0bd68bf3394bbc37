// What the clients give Bun's fetch: TLS (the CA a server is checked against, added to the
// system's roots as a registry's or a mirror's extra CA is, or alone as a kubeconfig's cluster CA
// is; a client certificate and key; the server name to expect) and a per-request timeout.

export interface TlsTrust {
  /** CA certificates (PEM) */
  ca?: string;
  /** true: trust `ca` alone (kubectl's rule for a kubeconfig's CA); false: the system's roots too */
  caOnly?: boolean;
  /** a client certificate and its key (PEM) */
  cert?: string;
  key?: string;
  /** do not check the server's certificate at all */
  insecure?: boolean;
  serverName?: string;
}

/** fetch's `tls` option for `t`, or undefined when the defaults do. */
export async function fetchTls(t: TlsTrust): Promise<BunFetchRequestInitTLS | undefined> {
  const tls: BunFetchRequestInitTLS = {};
  // node:tls loads only when the roots are needed: it costs every run's start-up ~5 ms.
  if (t.ca) tls.ca = t.caOnly ? [t.ca] : [...(await import("node:tls")).rootCertificates, t.ca];
  if (t.cert && t.key) Object.assign(tls, { cert: t.cert, key: t.key });
  if (t.insecure) tls.rejectUnauthorized = false;
  if (t.serverName) tls.serverName = t.serverName;
  return Object.keys(tls).length ? tls : undefined;
}

/** The caller's signal, ended too after `ms`. */
export const withTimeout = (signal: AbortSignal | undefined, ms: number) => (signal ? AbortSignal.any([signal, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms));
