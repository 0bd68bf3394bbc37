// A Bun proxy in front of a real docker-registry that plays the parts a test needs the registry
// to play: a Bearer token service (challenge, token endpoint, tokens checked on every request),
// blob storage on another host name reached by redirect, and faults (a flipped byte in a blob,
// a blob longer than its descriptor, a manifest that is not the one asked for).
export interface ProxyOptions {
  /** require Bearer tokens, issued anonymously for pull scopes */
  bearer?: boolean;
  /** answer blob GETs with a redirect to localhost:<port>/storage/… (another host than 127.0.0.1) */
  redirectBlobs?: boolean;
  corruptBlob?: string;
  /** serve this blob with extra bytes appended (more than its descriptor's size) */
  padBlob?: string;
  /** serve this manifest body for every manifest GET */
  wrongManifest?: boolean;
}

export interface RegistryProxy {
  host: string;
  options: ProxyOptions;
  /** requests seen, `METHOD path authorization?` */
  seen: string[];
  stop(): void;
}

export function startRegistryProxy(upstream: string, options: ProxyOptions = {}): RegistryProxy {
  const tokens = new Set<string>();
  const seen: string[] = [];
  const server: Bun.Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req): Promise<Response> {
      const url = new URL(req.url);
      const authorization = req.headers.get("authorization");
      seen.push(`${req.method} ${url.host}${url.pathname}${authorization ? ` ${authorization.split(" ")[0]}` : ""}`);
      if (url.pathname === "/token") {
        const scope = url.searchParams.get("scope") ?? "";
        if (url.searchParams.get("service") !== "kube-rootfs-test" || !/^repository:[a-z0-9/._-]+:pull$/.test(scope)) return new Response("bad token request", { status: 400 });
        const token = crypto.randomUUID();
        tokens.add(token);
        return Response.json({ token });
      }
      if (url.pathname.startsWith("/storage/")) {
        if (authorization) return new Response("credentials sent to storage", { status: 400 });
        return forward(req, `/v2/${url.pathname.slice("/storage/".length)}`);
      }
      if (options.bearer && url.pathname !== "/v2/" && !tokens.has(authorization?.replace(/^Bearer /, "") ?? "")) {
        const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname)?.[1] ?? "";
        return new Response("{}", {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="http://127.0.0.1:${server.port}/token",service="kube-rootfs-test",scope="repository:${repo}:pull"` },
        });
      }
      const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
      if (blob && req.method === "GET" && options.redirectBlobs) {
        return new Response(null, { status: 307, headers: { location: `http://localhost:${server.port}/storage/${blob[1]}/blobs/${blob[2]}` } });
      }
      if (options.wrongManifest && req.method === "GET" && url.pathname.includes("/manifests/")) {
        const res = await forward(req, url.pathname);
        const body = (await res.text()).replace(/}\s*$/, ',"annotations":{"tampered":"yes"}}');
        const headers = new Headers(res.headers);
        headers.delete("content-length");
        return new Response(body, { status: res.status, headers });
      }
      const res = await forward(req, url.pathname + url.search);
      if (blob && blob[2] === options.corruptBlob && req.method === "GET") {
        const bytes = new Uint8Array(await res.arrayBuffer());
        bytes[bytes.length >> 1]! ^= 0xff;
        return new Response(bytes, { status: res.status, headers: res.headers });
      }
      if (blob && blob[2] === options.padBlob && req.method === "GET") {
        const padded = new Uint8Array([...new Uint8Array(await res.arrayBuffer()), ...new Uint8Array(4096)]);
        const headers = new Headers(res.headers);
        headers.delete("content-length");
        return new Response(padded, { status: res.status, headers });
      }
      return res;
    },
  });

  async function forward(req: Request, path: string): Promise<Response> {
    const headers = new Headers(req.headers);
    headers.delete("authorization");
    headers.delete("host");
    const res = await fetch(`${upstream}${path}`, { method: req.method, headers, body: req.body, redirect: "manual" });
    const out = new Headers(res.headers);
    out.delete("content-encoding");
    return new Response(res.body, { status: res.status, headers: out });
  }

  return { host: `127.0.0.1:${server.port}`, options, seen, stop: () => server.stop(true) };
}
