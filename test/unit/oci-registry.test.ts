// The registry client against Debian's docker-registry: push primitives, pulls, the Bearer flow
// (through a token-issuing proxy), basic auth over TLS with a CA, and the failures' messages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Sink } from "../../src/http/download";
import { Limit } from "../../src/http/limit";
import { loadCredentials, type CredentialStore } from "../../src/oci/auth";
import { MEDIA, sha256Digest, type Descriptor } from "../../src/oci/media";
import { Registry, type RegistryOptions } from "../../src/oci/registry";
import { startRegistryProxy, type RegistryProxy } from "../helpers/registry-proxy";
import { startRegistry, type TestRegistry } from "../helpers/registry";
import { tempDir } from "../helpers/tmp";

const none: CredentialStore = () => undefined;
const options = (o: Partial<RegistryOptions> = {}): RegistryOptions => ({
  signal: new AbortController().signal,
  limit: new Limit(2),
  attempts: 2,
  stallMs: 5000,
  totalMs: 30000,
  maxBytes: 1 << 30,
  credentials: none,
  insecure: [],
  ...o,
});

class Bytes implements Sink {
  chunks: Uint8Array[] = [];
  received = 0;
  write(c: Uint8Array) {
    this.chunks.push(c);
    this.received += c.byteLength;
  }
  reset() {
    this.chunks = [];
    this.received = 0;
  }
  text() {
    return Buffer.concat(this.chunks).toString();
  }
}

const layer = new TextEncoder().encode("layer bytes ".repeat(1000));
const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
const desc = (mediaType: string, bytes: Uint8Array): Descriptor => ({ mediaType, digest: sha256Digest(bytes), size: bytes.byteLength });
const manifest = new TextEncoder().encode(
  JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: desc(MEDIA.ociConfig, config), layers: [desc(MEDIA.ociLayer, layer)] }),
);

/** Push the test image into repo `name` with the client itself. */
async function pushImage(reg: Registry, repo: string) {
  for (const b of [layer, config]) if (!(await reg.blobExists(repo, sha256Digest(b)))) await reg.uploadBlob(repo, sha256Digest(b), () => b, b.byteLength);
  return reg.putManifest(repo, "v1", MEDIA.ociManifest, manifest);
}

describe("registry client, plain HTTP on loopback", () => {
  let registry: TestRegistry;
  let proxy: RegistryProxy;
  beforeAll(async () => {
    registry = await startRegistry();
    proxy = startRegistryProxy(registry.url, { bearer: true, redirectBlobs: true });
  });
  afterAll(() => {
    proxy?.stop();
    registry?.stop();
  });

  test("push: upload, exists, mount, manifest; pull: manifest and blob, as skopeo sees them", async () => {
    const reg = new Registry(registry.host, options());
    expect(await reg.blobExists("pull/a", sha256Digest(layer))).toBe(false);
    const digest = await pushImage(reg, "pull/a");
    expect(digest).toBe(sha256Digest(manifest));
    expect(await reg.blobExists("pull/a", sha256Digest(layer))).toBe(true);
    expect(await reg.mountBlob("pull/b", sha256Digest(layer), "pull/a")).toBe(true);
    expect(await reg.blobExists("pull/b", sha256Digest(layer))).toBe(true);

    const got = await reg.getManifest("pull/a", "v1");
    expect(got).toEqual({ bytes: manifest, mediaType: MEDIA.ociManifest, digest });
    const sink = new Bytes();
    await reg.fetchBlob("pull/a", desc(MEDIA.ociLayer, layer), sink);
    expect(sink.text()).toBe(new TextDecoder().decode(layer));

    const inspected = Bun.spawnSync(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/pull/a:v1`]);
    expect(inspected.stdout.toString()).toBe(new TextDecoder().decode(manifest));
  });

  test("Bearer: challenge answered by an anonymous token; blobs redirected to storage without the token", async () => {
    await pushImage(new Registry(registry.host, options()), "pull/bearer");
    const reg = new Registry(proxy.host, options());
    const got = await reg.getManifest("pull/bearer", "v1");
    expect(got.digest).toBe(sha256Digest(manifest));
    const sink = new Bytes();
    await reg.fetchBlob("pull/bearer", desc(MEDIA.ociLayer, layer), sink);
    expect(sink.received).toBe(layer.byteLength);
    expect(proxy.seen.filter((s) => s.includes("/token")).length).toBe(1);
    expect(proxy.seen).toContain(`GET ${proxy.host}/v2/pull/bearer/manifests/v1 Bearer`);
    expect(proxy.seen).toContain(`GET ${proxy.host}/v2/pull/bearer/blobs/${sha256Digest(layer)} Bearer`);
    expect(proxy.seen.some((s) => s.startsWith("GET localhost:") && s.endsWith(sha256Digest(layer)))).toBe(true);
  });

  test("a manifest whose bytes do not match the announced digest is refused", async () => {
    await pushImage(new Registry(registry.host, options()), "pull/tamper");
    const bad = startRegistryProxy(registry.url, { wrongManifest: true });
    try {
      const err = await new Registry(bad.host, options()).getManifest("pull/tamper", "v1").catch((e: Error) => e);
      expect(String(err)).toContain(`registry ${bad.host}: manifest pull/tamper:v1 has digest sha256:`);
      expect(String(err)).toContain(`expected ${sha256Digest(manifest)}`);
    } finally {
      bad.stop();
    }
  });

  test("a blob longer than its descriptor is cut off at the descriptor's size", async () => {
    await pushImage(new Registry(registry.host, options()), "pull/padded");
    const padded = startRegistryProxy(registry.url, { padBlob: sha256Digest(layer) });
    try {
      const err = await new Registry(padded.host, options()).fetchBlob("pull/padded", desc(MEDIA.ociLayer, layer), new Bytes()).catch((e: Error) => e);
      expect(String(err)).toContain(`registry ${padded.host}: blob ${sha256Digest(layer)}: `);
      expect(String(err)).toContain(`larger than the ${layer.byteLength}-byte cap (its size in the manifest)`);
    } finally {
      padded.stop();
    }
  });

  // Needs a name that reaches this host's 127.0.0.1 without being a loopback name: the host's own
  // name does here (Debian's /etc/hosts maps it), and on a host where it does not, the only such
  // names would lead off the machine, which no test may reach.
  const hostName = hostname();
  const resolvesLocally = /^127\./.test(Bun.spawnSync(["getent", "ahostsv4", hostName]).stdout.toString());
  test.if(resolvesLocally)("plain HTTP to a host that is not loopback by name only when listed in --insecure-registry", async () => {
    const host = `${hostName}:${registry.host.split(":")[1]}`;
    const err = await new Registry(host, options({ attempts: 1 })).getManifest("pull/a", "v1").catch((e: Error) => e);
    expect(String(err)).toContain(`registry ${host}: does not speak TLS (EPROTO: `);
    expect(String(err)).toContain(`plain HTTP only with --insecure-registry ${host}`);
    const listed = new Registry(host, options({ insecure: [host] }));
    expect((await listed.getManifest("pull/a", "v1")).digest).toBe(sha256Digest(manifest));
  });
});

describe("registry client, TLS and basic auth", () => {
  let registry: TestRegistry;
  let auth: string;
  beforeAll(async () => {
    registry = await startRegistry({ tls: true, users: { pull: "right-password" } });
    const dir = tempDir("oci-auth");
    auth = join(dir, "config.json");
    writeFileSync(auth, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from("pull:right-password").toString("base64") } } }));
  });
  afterAll(() => registry?.stop());

  test("with the CA and credentials: push and pull", async () => {
    const reg = new Registry(registry.host, options({ ca: await Bun.file(registry.caFile!).text(), credentials: loadCredentials(auth) }));
    await pushImage(reg, "pull/tls");
    expect((await reg.getManifest("pull/tls", "v1")).digest).toBe(sha256Digest(manifest));
  });

  test("without the CA: one line naming the registry and --registry-ca", async () => {
    const err = await new Registry(registry.host, options({ credentials: loadCredentials(auth) })).getManifest("pull/tls", "v1").catch((e: Error) => e);
    expect(String(err)).toMatch(new RegExp(`registry ${registry.host}: TLS certificate not trusted \\(.*\\); pass --registry-ca FILE`));
  });

  test("wrong and missing credentials", async () => {
    const ca = await Bun.file(registry.caFile!).text();
    const wrong = () => ({ username: "pull", password: "wrong" });
    const err = await new Registry(registry.host, options({ ca, credentials: wrong })).getManifest("pull/tls", "v1").catch((e: Error) => e);
    expect(String(err)).toContain(`registry ${registry.host}: credentials for pull rejected (HTTP 401`);
    const anon = await new Registry(registry.host, options({ ca })).getManifest("pull/tls", "v1").catch((e: Error) => e);
    expect(String(anon)).toContain(`registry ${registry.host}: needs credentials (basic auth)`);
  });
});
