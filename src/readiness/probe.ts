// What readiness and doctor ask of the host, behind one interface so tests inject the facts.
import { existsSync, statfsSync } from "node:fs";
import { release } from "node:os";
import { dirname } from "node:path";
import { toolPath } from "../config/host";
import { errorMessage } from "../errors";

export interface HostProbe {
  uid(): number;
  which(cmd: string): string | null;
  exists(path: string): boolean;
  kernel(): string;
  hostArch(): string;
  /** "cgroup2" when /sys/fs/cgroup is the unified hierarchy */
  cgroupFs(): "cgroup2" | "legacy";
  /** bytes available to root at `path` or its nearest existing parent */
  freeBytes(path: string): number;
  /** undefined when the URL answered 2xx, else why not (doctor only: readiness never asks) */
  reach(url: string): Promise<string | undefined>;
}

function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && p !== dirname(p)) p = dirname(p);
  return p;
}

/** The real host. */
export const realHost: HostProbe = {
  uid: () => process.getuid?.() ?? -1,
  which: toolPath,
  exists: existsSync,
  kernel: release,
  hostArch: () => process.arch,
  cgroupFs: () => (existsSync("/sys/fs/cgroup/cgroup.controllers") ? "cgroup2" : "legacy"),
  freeBytes(path) {
    const s = statfsSync(nearestExisting(path));
    return s.bavail * s.bsize;
  },
  async reach(url) {
    if (url.startsWith("file:")) return existsSync(new URL(url).pathname) ? undefined : "not found";
    try {
      const res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      return errorMessage(err);
    }
  },
};
