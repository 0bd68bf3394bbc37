// Stock nginx (Debian's package) serving a directory on 127.0.0.1, with a generated minimal
// config, started for a test and stopped after. No root-owned defaults are touched.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { tempDir } from "./goal";

export interface Nginx {
  url: string;
  stop(): void;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function startNginx(root: string): Promise<Nginx> {
  const prefix = tempDir("nginx");
  mkdirSync(join(prefix, "logs"));
  const port = await freePort();
  const conf = join(prefix, "nginx.conf");
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log;
events { worker_connections 64; }
http {
  access_log ${prefix}/logs/access.log;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location ~ /\\. { deny all; }
  }
}
`,
  );
  const nginx = Bun.which("nginx") ?? "/usr/sbin/nginx";
  const proc = Bun.spawn([nginx, "-p", prefix, "-c", conf], { stdout: "ignore", stderr: "pipe" });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
    if (await fetch(`${url}/kube-rootfs-probe`).then(() => true, () => false)) return { url, stop: () => proc.kill() };
    await Bun.sleep(50);
  }
  proc.kill();
  throw new Error("nginx did not start listening");
}
