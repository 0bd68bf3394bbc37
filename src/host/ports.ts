// Who listens on a TCP port of the host: the listening sockets of /proc/net/tcp and tcp6 (the
// network namespace of the process reading them, which the machine shares), and the processes
// holding each socket, found through /proc/<pid>/fd.
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { readText } from "../fs/read";
import { allPids, processFacts, type ProcessFacts } from "./processes";

export interface Listener {
  port: number;
  /** the socket's inode: what /proc/<pid>/fd links name (socket:[inode]) */
  inode: number;
}

/** TCP state 0A: LISTEN. */
const LISTEN = "0A";

/** The listening sockets of /proc/net/tcp{,6} under `proc`. */
export function tcpListeners(proc = "/proc"): Listener[] {
  return ["tcp", "tcp6"].flatMap((file) =>
    (readText(join(proc, "net", file)) ?? "")
      .split("\n")
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === LISTEN)
      .map((f) => ({ port: Number.parseInt(f[1]!.split(":").pop()!, 16), inode: Number(f[9]) })),
  );
}

/** The processes with an open fd on one of these socket inodes, per inode. */
export function socketHolders(inodes: number[], proc = "/proc"): Map<number, ProcessFacts[]> {
  const want = new Set(inodes);
  const out = new Map<number, ProcessFacts[]>();
  // Every fd of every process is a readlink each: none when no socket is asked about.
  if (!want.size) return out;
  for (const pid of allPids(proc)) {
    let fds: string[];
    try {
      fds = readdirSync(join(proc, String(pid), "fd"));
    } catch {
      continue; // exited, or not ours to look at
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(join(proc, String(pid), "fd", fd));
      } catch {
        continue;
      }
      const inode = Number(/^socket:\[(\d+)\]$/.exec(link)?.[1]);
      if (!want.has(inode)) continue;
      const facts = processFacts(pid, proc);
      if (facts && !out.get(inode)?.some((p) => p.pid === pid)) out.set(inode, [...(out.get(inode) ?? []), facts]);
    }
  }
  return out;
}
