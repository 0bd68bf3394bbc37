// Host preflight as data: each check reads facts through a HostProbe (injected in tests) and
// returns ok, warn or fail with a fix. `doctor` runs them all; provision runs the ones the
// rootfs step depends on and stops before touching anything when one fails.
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import type { Resolved } from "./config/resolve";
import { archOf } from "./config/host";
import { RunError, errorMessage } from "./errors";
import { defaultMirror, distroOf } from "./rootfs/distro";
import { lookupKeyring } from "./rootfs/bootstrap/plan";
import { emulationProblem, QEMU_HANDLER, readText } from "./rootfs/binfmt";
import type { Arch } from "./config/schema";

export type Status = "ok" | "warn" | "fail";

export interface CheckResult {
  status: Status;
  message: string;
  fix?: string;
}

export interface HostProbe {
  uid(): number;
  which(cmd: string): string | null;
  exists(path: string): boolean;
  /** a file's text, undefined when it cannot be read */
  read(path: string): string | undefined;
  kernel(): string;
  hostArch(): string;
  /** "cgroup2" when /sys/fs/cgroup is the unified hierarchy */
  cgroupFs(): "cgroup2" | "legacy";
  /** bytes available to root at `path` or its nearest existing parent */
  freeBytes(path: string): number;
  /** undefined when the URL answered 2xx, else why not */
  reach(url: string): Promise<string | undefined>;
}

export interface Check {
  name: string;
  run(goal: Resolved, host: HostProbe): CheckResult | Promise<CheckResult>;
}

const GiB = 1024 ** 3;
/** Space a bootstrapped rootfs plus the node's binaries need, and a comfortable margin. */
const SPACE = { fail: 1 * GiB, warn: 3 * GiB };

const ok = (message: string): CheckResult => ({ status: "ok", message });
const bad = (status: "warn" | "fail", message: string, fix: string): CheckResult => ({ status, message, fix });

const bootstraps = (goal: Resolved) => goal.bootstrap.method === "debootstrap" || goal.bootstrap.method === "mmdebstrap";

export const rootCheck: Check = {
  name: "root",
  run: (_g, h) => (h.uid() === 0 ? ok("running as root") : bad("fail", `running as uid ${h.uid()}`, "run as root (sudo kube-rootfs …)")),
};

export const nspawnCheck: Check = {
  name: "systemd-nspawn",
  run(_g, h) {
    const missing = ["systemd-nspawn", "machinectl"].filter((c) => !h.which(c));
    return missing.length ? bad("fail", `${missing.join(" and ")} not found`, "apt-get install systemd-container") : ok("systemd-nspawn and machinectl present");
  },
};

export const bootstrapToolCheck: Check = {
  name: "bootstrap tool",
  run(goal, h) {
    const { method } = goal.bootstrap;
    if (method === "none") return ok("bootstrap.method none: the machine dir is brought by you");
    // tarball restores and snapshots need GNU tar and a decompressor; bootstraps need their tool.
    const need = method === "tarball" ? ["tar"] : method === "image" ? ["setfattr"] : [method, "tar"];
    const missing = need.filter((c) => !h.which(c));
    if (missing.length) return bad("fail", `${missing.join(", ")} not found (bootstrap.method ${method})`, `apt-get install ${missing.map((c) => (c === "setfattr" ? "attr" : c)).join(" ")}`);
    if (!h.which("zstd")) return bad("warn", "zstd not found: snapshots use gzip, slower", "apt-get install zstd");
    return ok(`${need.join(", ")} and zstd present`);
  },
};

export const keyringCheck: Check = {
  name: "archive keyring",
  run(goal, h) {
    if (!bootstraps(goal)) return ok(`not needed for bootstrap.method ${goal.bootstrap.method}`);
    const k = lookupKeyring(goal.bootstrap.suite, goal.bootstrap.keyring, (p) => h.exists(p));
    return k.path ? ok(k.path) : bad("fail", k.problem!, k.fix!);
  },
};

export const modulesCheck: Check = {
  name: "kernel modules",
  run(_g, h) {
    const dir = `/lib/modules/${h.kernel()}`;
    if (h.exists(dir)) return ok(`${dir} present (bound read-only into the machine)`);
    return bad(
      "warn",
      `${dir} missing: the machine gets no modules, so overlay and br_netfilter must be built in or loaded on the host`,
      `install the modules of the running kernel (e.g. apt-get install linux-modules-${h.kernel()}) or boot a kernel that has them`,
    );
  },
};

export const cgroupCheck: Check = {
  name: "cgroup v2",
  run: (_g, h) =>
    h.cgroupFs() === "cgroup2"
      ? ok("unified cgroup hierarchy")
      : bad("warn", "/sys/fs/cgroup is not cgroup v2 (kubelet 1.35+ refuses cgroup v1)", "boot the host with systemd.unified_cgroup_hierarchy=1"),
};

function spaceCheck(name: string, path: (g: Resolved) => string): Check {
  return {
    name,
    run(goal, h) {
      const at = path(goal);
      const free = h.freeBytes(at);
      const gib = (free / GiB).toFixed(1);
      if (free < SPACE.fail) return bad("fail", `${gib} GiB free under ${at}`, `free at least ${SPACE.fail / GiB} GiB there, or choose another dir`);
      if (free < SPACE.warn) return bad("warn", `${gib} GiB free under ${at}`, `${SPACE.warn / GiB} GiB leaves room for a second machine`);
      return ok(`${gib} GiB free under ${at}`);
    },
  };
}

export const machineSpaceCheck = spaceCheck("machine dir space", (g) => dirname(g.machineDir));
export const cacheSpaceCheck = spaceCheck("cache dir space", (g) => g.cacheDir);

export const archCheck: Check = {
  name: "arch",
  run(goal, h) {
    let host: Arch;
    try {
      host = archOf(h.hostArch());
    } catch (err) {
      return bad("fail", errorMessage(err), "run on an amd64 or arm64 host");
    }
    if (host === goal.arch) return ok(`${goal.arch}`);
    const p = emulationProblem(goal.arch, host, (path) => h.read(path));
    return p ? bad("fail", p.problem, p.fix) : ok(`${goal.arch} on an ${host} host, through the ${QEMU_HANDLER[goal.arch]} binfmt handler`);
  },
};

export const mirrorCheck: Check = {
  name: "bootstrap mirror",
  async run(goal, h) {
    if (!bootstraps(goal)) return ok(`not needed for bootstrap.method ${goal.bootstrap.method}`);
    if (goal.offline) return ok("offline: not contacted (a snapshot in the cache must provide the rootfs)");
    const { suite, mirror } = goal.bootstrap;
    let base: string;
    try {
      distroOf(suite);
      base = (mirror ?? defaultMirror(suite, goal.arch)).replace(/\/+$/, "");
    } catch (err) {
      return bad("fail", errorMessage(err), "set --bootstrap-suite");
    }
    const url = `${base}/dists/${suite}/Release`;
    const why = await h.reach(url);
    return why ? bad("fail", `${url}: ${why}`, "check the network, or set --bootstrap-mirror") : ok(url);
  },
};

export const ALL_CHECKS: Check[] = [
  rootCheck, nspawnCheck, bootstrapToolCheck, keyringCheck, modulesCheck, cgroupCheck,
  machineSpaceCheck, cacheSpaceCheck, archCheck, mirrorCheck,
];

export interface Report extends CheckResult {
  name: string;
}

export async function runChecks(checks: Check[], goal: Resolved, host: HostProbe): Promise<Report[]> {
  const run = async (c: Check): Promise<CheckResult> => {
    try {
      return await c.run(goal, host);
    } catch (err) {
      return bad("fail", errorMessage(err), "see the message");
    }
  };
  return Promise.all(checks.map(async (c) => ({ name: c.name, ...(await run(c)) })));
}

/** One line per check: `fail  root: running as uid 1000 (fix: run as root …)`. */
export const formatReport = (r: Report) => `${r.status.padEnd(4)}  ${r.name}: ${r.message}${r.fix ? ` (fix: ${r.fix})` : ""}`;

/**
 * The checks an empty machine dir depends on: root and space always, the bootstrap tool and
 * keyring only when a bootstrap tool will run (a restore needs tar alone).
 */
export function preflightChecks(bootstrapping: boolean): Check[] {
  return bootstrapping ? [rootCheck, bootstrapToolCheck, keyringCheck, machineSpaceCheck, cacheSpaceCheck] : [rootCheck, bootstrapToolCheck, machineSpaceCheck, cacheSpaceCheck];
}

/** Run the preflight checks; the failures, one line each, become the error. */
export async function requirePreflight(goal: Resolved, bootstrapping: boolean, host: HostProbe = realHost): Promise<Report[]> {
  const reports = await runChecks(preflightChecks(bootstrapping), goal, host);
  const failed = reports.filter((r) => r.status === "fail");
  if (failed.length) throw new RunError(`preflight: ${failed.map(formatReport).join("; ")}`, failed.map(formatReport).join("\n"));
  return reports;
}

function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && p !== dirname(p)) p = dirname(p);
  return p;
}

/** The real host. */
export const realHost: HostProbe = {
  uid: () => process.getuid?.() ?? -1,
  which: (cmd) => Bun.which(cmd, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` }),
  exists: existsSync,
  read: readText,
  kernel: () => readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
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
