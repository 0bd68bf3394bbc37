// Forward TCP connections on HOST:PORT to a unix socket: run inside another network namespace
// (nsenter -n), it lets a server of this test process (listening on a unix socket, which is a
// file and crosses namespaces) be reached on that namespace's loopback. Prints "listening" once
// it accepts. Usage: bun tcp-forward.ts 127.0.0.1:6443 /path/to/socket
import type { Socket } from "bun";

const [listen, path] = process.argv.slice(2);
const [hostname, port] = (listen ?? "").split(":");
if (!hostname || !port || !path) {
  console.error("usage: tcp-forward.ts HOST:PORT UNIX-SOCKET");
  process.exit(2);
}

/** Write everything, keeping what the socket did not take until it drains. */
function pipeTo(sock: Socket<any>) {
  let pending = Buffer.alloc(0);
  const flush = () => {
    if (!pending.length) return;
    const n = sock.write(pending);
    pending = pending.subarray(Math.max(n, 0));
  };
  return { write: (b: Uint8Array) => ((pending = Buffer.concat([pending, b])), flush()), flush };
}

interface Pair {
  toClient: ReturnType<typeof pipeTo>;
  toServer?: ReturnType<typeof pipeTo>;
  upstream?: Socket<any>;
  early: Uint8Array[];
}

Bun.listen<Pair>({
  hostname,
  port: Number(port),
  socket: {
    open(client) {
      const pair: Pair = { toClient: pipeTo(client), early: [] };
      client.data = pair;
      Bun.connect({
        unix: path,
        socket: {
          open(up) {
            pair.upstream = up;
            pair.toServer = pipeTo(up);
            for (const b of pair.early.splice(0)) pair.toServer.write(b);
          },
          data: (_up, b) => pair.toClient.write(b),
          drain: () => pair.toServer?.flush(),
          close: () => void client.end(),
          error: () => void client.end(),
        },
      }).catch(() => client.end());
    },
    data(client, b) {
      const pair = client.data;
      if (pair.toServer) pair.toServer.write(b);
      else pair.early.push(Buffer.from(b));
    },
    drain: (client) => client.data.toClient.flush(),
    close: (client) => void client.data.upstream?.end(),
  },
});
console.log("listening");
