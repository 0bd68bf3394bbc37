// A read-only registry on 127.0.0.1 (distribution API v2, plain HTTP: loopback) that serves one
// two-arch busybox image under any repository and tag, for tests whose provision or fetch
// pre-loads the sandbox image (always, like every provision): `--runtime-sandbox-image` points
// there instead of registry.k8s.io, which tests never reach. One per test process.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { twoArchBusyboxLayout } from "./oci";
import { tempDir } from "./tmp";

export interface SandboxRegistry {
  /** the reference to pass as --runtime-sandbox-image */
  image: string;
  /** `METHOD path` of every request */
  requests: string[];
}

let started: Promise<SandboxRegistry> | undefined;

export const sandboxRegistry = (): Promise<SandboxRegistry> => (started ??= serve());

/** `--runtime-sandbox-image <loopback image>`, for a provision or fetch command line. */
export const sandboxImageArgs = async () => ["--runtime-sandbox-image", (await sandboxRegistry()).image];

async function serve(): Promise<SandboxRegistry> {
  const layout = await twoArchBusyboxLayout(tempDir("sandbox-registry"));
  const blob = (digest: string) => readFileSync(join(layout, "blobs/sha256", digest.slice("sha256:".length)));
  const top = (JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Array<{ digest: string; mediaType: string }> }).manifests[0]!;
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const { pathname } = new URL(req.url);
      requests.push(`${req.method} ${pathname}`);
      if (pathname === "/v2/") return Response.json({});
      const m = /^\/v2\/[a-z0-9._/-]+\/(manifests|blobs)\/(.+)$/.exec(pathname);
      if (!m) return new Response("not found", { status: 404 });
      const digest = m[1] === "manifests" && !m[2]!.startsWith("sha256:") ? top.digest : m[2]!;
      let body: Buffer;
      try {
        body = blob(digest);
      } catch {
        return new Response("unknown blob", { status: 404 });
      }
      const type = m[1] === "manifests" ? (JSON.parse(body.toString()) as { mediaType: string }).mediaType : "application/octet-stream";
      const headers = { "content-type": type, "content-length": String(body.length), "docker-content-digest": digest };
      return new Response(req.method === "HEAD" ? null : body, { headers });
    },
  });
  server.unref();
  return { image: `127.0.0.1:${server.port}/pause:3.10`, requests };
}
