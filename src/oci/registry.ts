// A distribution API v2 client for one registry host: manifests and blobs read and written,
// with the Bearer token challenge or basic credentials, a CA file, and plain HTTP only where
// allowed. Blob reads stream through the shared downloader (src/http) (retries, stall, size cap).
import { abortError } from "../engine/task";
import { RunError } from "../errors";
import { download, fetchFollowing, type DownloadOptions, type RequestBody, type Sink } from "../http/download";
import { basicHeader, parseChallenge, type Challenge, type CredentialStore } from "./auth";
import { DIGEST, MANIFEST_ACCEPT, sha256Digest, type Descriptor } from "./media";
import { apiHost, isLoopback } from "./ref";

/** The downloader's limits, and who this client is and trusts. */
export interface RegistryOptions extends Pick<DownloadOptions, "signal" | "limit" | "attempts" | "stallMs" | "totalMs" | "maxBytes" | "ca"> {
  credentials: CredentialStore;
  /** hosts allowed to speak plain HTTP besides loopback */
  insecure: readonly string[];
}

export interface Manifest {
  bytes: Uint8Array;
  mediaType: string;
  digest: string;
}

const MAX_MANIFEST_BYTES = 4 << 20;
const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|ALTNAME/;

type Actions = "pull" | "pull,push";
const scopeOf = (repo: string, actions: Actions) => `repository:${repo}:${actions}`;

class Transient extends Error {}

export class Registry {
  private origin?: string;
  /** Authorization header per scope, once a challenge was answered */
  private readonly auth = new Map<string, string>();

  constructor(
    /** the host as written in the reference (names it in every message) */
    readonly host: string,
    private readonly opts: RegistryOptions,
  ) {}

  private fail(what: string): RunError {
    return new RunError(`registry ${this.host}: ${what}`);
  }

  /** https, or plain http when the host is loopback or listed insecure and does not speak TLS. */
  private async base(): Promise<string> {
    if (this.origin) return this.origin;
    const host = apiHost(this.host);
    const https = `https://${host}`;
    try {
      await this.retrying(() => this.raw("GET", `${https}/v2/`, {}));
      this.origin = https;
    } catch (err) {
      if ((err as { code?: string }).code !== "EPROTO") throw err;
      if (!isLoopback(host) && !this.opts.insecure.includes(this.host)) {
        throw this.fail(`does not speak TLS (${(err as Error).message}); plain HTTP only with --insecure-registry ${this.host}`);
      }
      this.origin = `http://${host}`;
    }
    return this.origin;
  }

  /** One request; connection and TLS failures become messages naming this registry. */
  private async raw(method: string, url: string, init: { headers?: Record<string, string>; body?: RequestBody }): Promise<Response> {
    try {
      const res = await fetchFollowing(url, { method, ...init, signal: this.opts.signal, ca: this.opts.ca });
      if (res.status >= 500 || res.status === 429 || res.status === 408) {
        await res.body?.cancel();
        throw new Transient(`${method} ${url}: HTTP ${res.status}`);
      }
      return res;
    } catch (err) {
      if (err instanceof Transient || err instanceof RunError || this.opts.signal.aborted) throw err;
      const code = (err as { code?: string }).code ?? "";
      if (CERT_ERRORS.test(code)) {
        throw this.fail(`TLS certificate not trusted (${(err as Error).message}); pass --registry-ca FILE with the CA that signed it`);
      }
      if (code === "EPROTO") throw Object.assign(new Error((err as Error).message), { code });
      throw new Transient(`${method} ${url}: ${(err as Error).message}`);
    }
  }

  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    let delay = 500;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.opts.signal.aborted) throw abortError();
        if (!(err instanceof Transient)) throw err;
        if (attempt >= this.opts.attempts) throw this.fail(`${err.message} (gave up after ${attempt} attempts)`);
        await Bun.sleep(delay * (0.75 + Math.random() / 2));
        delay *= 2;
      }
    }
  }

  /**
   * A request on the API with this scope's credentials; a 401 is answered once (a token from the
   * Bearer realm, or basic credentials) and the request sent again.
   */
  private async send(method: string, path: string, actions: { repo: string; actions: Actions }, init: { headers?: Record<string, string>; body?: () => RequestBody } = {}): Promise<Response> {
    const url = path.startsWith("http") ? path : `${await this.base()}${path}`;
    const scope = scopeOf(actions.repo, actions.actions);
    const attempt = () =>
      this.retrying(() => {
        const authorization = this.auth.get(scope);
        return this.raw(method, url, { headers: { ...init.headers, ...(authorization ? { authorization } : {}) }, body: init.body?.() });
      });
    let res = await attempt();
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get("www-authenticate") ?? "");
    await res.body?.cancel();
    const hadAuth = this.auth.has(scope);
    if (!challenge) throw this.fail(`${method} ${url}: HTTP 401 without a WWW-Authenticate challenge`);
    this.auth.set(scope, await this.answer(challenge, scope));
    res = await attempt();
    if (res.status === 401) {
      await res.body?.cancel();
      const creds = this.opts.credentials(this.host);
      throw this.fail(creds || hadAuth ? `credentials for ${creds?.username ?? "this registry"} rejected (HTTP 401 on ${method} ${path})` : `needs credentials (HTTP 401 on ${method} ${path}); give a Docker config.json with --registry-auth FILE`);
    }
    return res;
  }

  /** The Authorization header that answers a challenge. */
  private async answer(challenge: Challenge, scope: string): Promise<string> {
    const creds = this.opts.credentials(this.host);
    if (challenge.scheme === "basic") {
      if (!creds) throw this.fail(`needs credentials (basic auth); none for ${this.host} in the registry auth file (--registry-auth FILE)`);
      return basicHeader(creds);
    }
    if (challenge.scheme !== "bearer" || !challenge.params.realm) throw this.fail(`unsupported auth challenge ${challenge.scheme}`);
    const realm = new URL(challenge.params.realm);
    if (challenge.params.service) realm.searchParams.set("service", challenge.params.service);
    for (const s of (challenge.params.scope ?? scope).split(" ")) realm.searchParams.append("scope", s);
    const res = await this.retrying(() => this.raw("GET", realm.href, { headers: creds ? { authorization: basicHeader(creds) } : {} }));
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw this.fail(creds ? `token service ${realm.origin} rejected the credentials for ${creds.username} (HTTP ${res.status})` : `token service ${realm.origin} refused an anonymous token (HTTP ${res.status}); give credentials with --registry-auth FILE`);
    }
    if (!res.ok) throw this.fail(`token service ${realm.origin}: HTTP ${res.status}`);
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw this.fail(`token service ${realm.origin} answered without a token`);
    return `Bearer ${token}`;
  }

  /** A manifest or index, its bytes checked against the digest asked for or announced. */
  async getManifest(repo: string, reference: string): Promise<Manifest> {
    const path = `/v2/${repo}/manifests/${reference}`;
    const res = await this.send("GET", path, { repo, actions: "pull" }, { headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) throw this.fail(`${repo}:${reference}: manifest not found (HTTP 404)`);
    if (!res.ok) throw this.fail(`GET ${path}: HTTP ${res.status}`);
    if (Number(res.headers.get("content-length") ?? 0) > MAX_MANIFEST_BYTES) throw this.fail(`${path}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength > MAX_MANIFEST_BYTES) throw this.fail(`${path}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
    const digest = sha256Digest(bytes);
    const expected = DIGEST.test(reference) ? reference : res.headers.get("docker-content-digest");
    if (expected && expected !== digest) throw this.fail(`manifest ${repo}:${reference} has digest ${digest}, expected ${expected}`);
    const mediaType = (JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: string }).mediaType ?? res.headers.get("content-type")?.split(";")[0] ?? "";
    return { bytes, mediaType, digest };
  }

  /** Stream a blob into a sink (which checks its digest); redirects to storage are followed. */
  async fetchBlob(repo: string, desc: Descriptor, sink: Sink): Promise<void> {
    const path = `/v2/${repo}/blobs/${desc.digest}`;
    // A HEAD answers the auth challenge before the streamed GET, which then carries the header.
    const head = await this.send("HEAD", path, { repo, actions: "pull" });
    if (head.status === 404) throw this.fail(`blob ${desc.digest} not found in ${repo}`);
    const authorization = this.auth.get(scopeOf(repo, "pull"));
    await download(`${await this.base()}${path}`, sink, {
      ...this.opts,
      ...(desc.size < this.opts.maxBytes ? { maxBytes: desc.size, capName: "its size in the manifest" } : {}),
      headers: authorization ? { authorization } : {},
    }).catch((err: unknown) => Promise.reject(this.fail(`blob ${desc.digest}: ${(err as Error).message}`)));
  }

  async blobExists(repo: string, digest: string): Promise<boolean> {
    const res = await this.send("HEAD", `/v2/${repo}/blobs/${digest}`, { repo, actions: "pull,push" });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw this.fail(`HEAD blob ${digest} in ${repo}: HTTP ${res.status}`);
  }

  /** Cross-repository mount; false when the registry started an upload instead. */
  async mountBlob(repo: string, digest: string, from: string): Promise<boolean> {
    const path = `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const res = await this.send("POST", path, { repo, actions: "pull,push" });
    await res.body?.cancel();
    return res.status === 201;
  }

  /** Monolithic upload: POST opens a session, PUT with ?digest= sends the whole blob. */
  async uploadBlob(repo: string, digest: string, body: () => RequestBody, size: number): Promise<void> {
    const opened = await this.send("POST", `/v2/${repo}/blobs/uploads/`, { repo, actions: "pull,push" });
    await opened.body?.cancel();
    const location = opened.headers.get("location");
    if (opened.status !== 202 || !location) throw this.fail(`open upload in ${repo}: HTTP ${opened.status}`);
    const url = new URL(location, await this.base());
    url.searchParams.set("digest", digest);
    const res = await this.send("PUT", url.href, { repo, actions: "pull,push" }, {
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      body,
    });
    await res.body?.cancel();
    if (res.status !== 201) throw this.fail(`upload ${digest} to ${repo}: HTTP ${res.status}`);
  }

  /** PUT a manifest or index by tag or digest; resolves to its digest. */
  async putManifest(repo: string, reference: string, mediaType: string, bytes: Uint8Array): Promise<string> {
    const res = await this.send("PUT", `/v2/${repo}/manifests/${reference}`, { repo, actions: "pull,push" }, {
      headers: { "content-type": mediaType },
      body: () => bytes,
    });
    const text = await res.text();
    if (res.status !== 201) throw this.fail(`put manifest ${repo}:${reference}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return sha256Digest(bytes);
  }
}
