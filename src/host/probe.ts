// What readiness and doctor ask of the host, behind one interface so tests inject the facts.
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { release } from "node:os";
import { dirname } from "node:path";
import { errorMessage } from "../errors";
import { readText } from "../fs/read";
import { toolPath } from "./tools";

export interface HostProbe {
  uid(): number;
  which(cmd: string): string | null;
  exists(path: string): boolean;
  /** a file's text, undefined when it cannot be read */
  read(path: string): string | undefined;
  kernel(): string;
  hostArch(): string;
  cgroups(): CgroupFacts;
  /** bytes available to root at `path` or its nearest existing parent */
  freeBytes(path: string): number;
  /** undefined when the URL answered 2xx, else why not (doctor only: readiness never asks) */
  reach(url: string): Promise<string | undefined>;
}

export interface CgroupFacts {
  /** cgroup2: /sys/fs/cgroup is unified; hybrid: v1 controllers plus /sys/fs/cgroup/unified; legacy: v1 only */
  layout: "cgroup2" | "hybrid" | "legacy";
  /** what the unified hierarchy's cgroup.controllers lists (none on hybrid hosts) */
  controllers: string[];
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
  read: readText,
  kernel: release,
  hostArch: () => process.arch,
  cgroups() {
    const controllers = (file: string) => readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean);
    if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return { layout: "cgroup2", controllers: controllers("/sys/fs/cgroup/cgroup.controllers") };
    if (existsSync("/sys/fs/cgroup/unified/cgroup.controllers")) return { layout: "hybrid", controllers: controllers("/sys/fs/cgroup/unified/cgroup.controllers") };
    return { layout: "legacy", controllers: [] };
  },
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
