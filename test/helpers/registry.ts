// Debian's docker-registry (distribution 2.8) on 127.0.0.1 for a test: storage in a temp dir,
// optionally TLS with a CA and server certificate made here with openssl, and htpasswd basic auth.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./goal";
import { freePort } from "./nginx";

export interface TestRegistry {
  /** host:port, as written in an image reference */
  host: string;
  url: string;
  dir: string;
  /** the CA that signed the server certificate (TLS only) */
  caFile?: string;
  /** a directory holding only that CA as ca.crt, as skopeo's --cert-dir wants it */
  certDir?: string;
  stop(): void;
}

function run(argv: string[]) {
  const r = Bun.spawnSync(argv, { stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** A CA and a server certificate for 127.0.0.1 signed by it. */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => join(dir, n);
  run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kube-rootfs test CA", "-keyout", f("ca.key"), "-out", f("ca.pem")]);
  run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", f("server.key"), "-out", f("server.csr")]);
  writeFileSync(f("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  run(["openssl", "x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("san.ext"), "-out", f("server.pem")]);
  return { ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

export async function startRegistry(opts: { tls?: boolean; users?: Record<string, string> } = {}): Promise<TestRegistry> {
  const dir = tempDir("registry");
  const port = await freePort();
  const certs = opts.tls ? makeCertificates(dir) : undefined;
  const certDir = certs ? join(dir, "client-certs") : undefined;
  if (certs && certDir) {
    mkdirSync(certDir);
    copyFileSync(certs.ca, join(certDir, "ca.crt"));
  }
  let auth = "";
  if (opts.users) {
    const lines = Object.entries(opts.users).map(([u, p]) => run(["htpasswd", "-Bbn", u, p]).trim());
    writeFileSync(join(dir, "htpasswd"), lines.join("\n") + "\n");
    auth = `auth:\n  htpasswd:\n    realm: kube-rootfs-test\n    path: ${join(dir, "htpasswd")}\n`;
  }
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${join(dir, "storage")}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${certs ? `  tls:\n    certificate: ${certs.cert}\n    key: ${certs.key}\n` : ""}${auth}`,
  );
  const proc = Bun.spawn(["docker-registry", "serve", config], { stdout: "ignore", stderr: Bun.file(join(dir, "registry.log")) });
  const url = `${certs ? "https" : "http"}://127.0.0.1:${port}`;
  const ca = certs ? await Bun.file(certs.ca).text() : undefined;
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited ${proc.exitCode}: see ${dir}/registry.log`);
    const up = await fetch(`${url}/v2/`, ca ? { tls: { ca } } : {}).then(() => true, () => false);
    if (up) return { host: `127.0.0.1:${port}`, url, dir, caFile: certs?.ca, certDir, stop: () => proc.kill() };
    await Bun.sleep(50);
  }
  proc.kill();
  throw new Error("docker-registry did not start listening");
}
