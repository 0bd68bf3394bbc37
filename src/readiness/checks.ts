// Every precondition a run can have, as data. Which of them a run needs is decided in
// index.ts from what its phases will do; none of them touches the network.
import { dirname } from "node:path";
import { archOf } from "../host/arch";
import type { Resolved } from "../config/resolve";
import type { Arch } from "../config/schema";
import { emulationProblem, QEMU_HANDLER } from "../rootfs/binfmt";
import type { HostTools } from "../rootfs/bootstrap/host-tools";
import { lookupKeyring } from "../rootfs/bootstrap/plan";
import { bad, ok, type Check } from "./check";

const GiB = 1024 ** 3;
/** Space a bootstrapped rootfs plus the node's binaries need, and a comfortable margin. */
const SPACE = { fail: 1 * GiB, warn: 3 * GiB };

export const rootCheck: Check = {
  name: "root",
  run: (h) => (h.uid() === 0 ? ok("running as root") : bad("fail", `running as uid ${h.uid()}`, "run as root (sudo kube-rootfs …)")),
};

/** Debian's package of a command, where it is not named after it. */
const PACKAGE_OF: Record<string, string> = { setfattr: "attr", umount: "mount", chroot: "coreutils", sync: "coreutils", mknod: "coreutils" };
const install = (cmds: string[]) => `apt-get install ${[...new Set(cmds.map((c) => PACKAGE_OF[c] ?? c))].join(" ")}`;

/**
 * Every command filling the rootfs runs on this host (rootfs/bootstrap/host-tools.ts): a missing
 * one blocks, named with why it is needed; a wanted one only warns.
 */
export function toolsCheck(tools: (host: Arch) => HostTools, key?: string): Check {
  return {
    name: "tools",
    key,
    run(h) {
      const { need, want } = tools(archOf(h.hostArch()));
      const missing = need.filter((t) => !h.which(t.cmd));
      if (missing.length) return bad("fail", missing.map((t) => `${t.cmd} not found: ${t.why}`).join("; "), install(missing.map((t) => t.cmd)));
      const absent = want.filter((w) => !h.which(w.cmd));
      if (absent.length) return bad("warn", absent.map((w) => `${w.cmd} not found: ${w.without}`).join("; "), install(absent.map((w) => w.cmd)));
      return ok(`${[...new Set([...need, ...want].map((t) => t.cmd))].join(", ")} present`);
    },
  };
}

export function keyringCheck(suite: string, configured: string | undefined): Check {
  return {
    name: "archive keyring",
    run(h) {
      const k = lookupKeyring(suite, configured, (p) => h.exists(p));
      return k.path ? ok(`${k.path} (suite ${suite})`) : bad("fail", k.problem!, k.fix!);
    },
  };
}

/** A bootstrap of another architecture runs its binaries (the second stage) through qemu. */
/** Another arch's binaries run through its qemu-user binfmt handler (see rootfs/binfmt.ts). */
export function binfmtCheck(arch: Arch): Check {
  return {
    name: "binfmt",
    key: `binfmt-${arch}`,
    run(h) {
      const host = archOf(h.hostArch());
      if (host === arch) return ok(`${arch} on an ${host} host`);
      const p = emulationProblem(arch, host, (path) => h.read(path));
      return p ? bad("fail", p.problem, p.fix) : ok(`${arch} on an ${host} host, through the ${QEMU_HANDLER[arch]} binfmt handler`);
    },
  };
}

export function spaceCheck(name: string, at: string): Check {
  return {
    name,
    run(h) {
      const free = h.freeBytes(at);
      const gib = (free / GiB).toFixed(1);
      if (free < SPACE.fail) return bad("fail", `${gib} GiB free under ${at}`, `free at least ${SPACE.fail / GiB} GiB there, or choose another dir`);
      if (free < SPACE.warn) return bad("warn", `${gib} GiB free under ${at}`, `${SPACE.warn / GiB} GiB leaves room for a second machine`);
      return ok(`${gib} GiB free under ${at}`);
    },
  };
}

export const machineSpaceCheck = (goal: Resolved) => spaceCheck("machine dir space", dirname(goal.machineDir));
export const cacheSpaceCheck = (goal: Resolved) => spaceCheck("cache dir space", goal.cacheDir);

/** What kubelet's container manager needs of the cgroup v2 hierarchy the machine gets, for its QoS cgroups. */
export const KUBELET_CONTROLLERS = ["cpu", "memory", "pids"];

/**
 * kubelet makes its QoS cgroups (kubepods, burstable, besteffort) with cpu, memory and pids
 * in the unified hierarchy the machine gets; without them it does not start at all. A cgroup v1
 * hierarchy is no way around it: the machine sees it read-only and runc cannot make a
 * container's cgroup there. A warning only: the rootfs can still be built and tested.
 */
export const cgroupCheck: Check = {
  name: "cgroups",
  run(h) {
    const { layout, controllers } = h.cgroups();
    const missing = KUBELET_CONTROLLERS.filter((c) => !controllers.includes(c));
    if (layout === "cgroup2" && !missing.length) return ok(`unified cgroup hierarchy (controllers: ${controllers.join(" ")})`);
    const what =
      layout === "legacy" ? "/sys/fs/cgroup is cgroup v1"
      : layout === "hybrid" ? `hybrid cgroups: /sys/fs/cgroup/unified ${controllers.length ? `delegates only ${controllers.join(" ")}` : "has no controllers"}`
      : `the cgroup v2 hierarchy has no ${missing.join(", ")} controller`;
    return bad(
      "warn",
      `${what}, so kubelet cannot create its QoS cgroups in the machine and will not start at all (the rootfs can still be built)`,
      "boot the host with the unified cgroup hierarchy (kernel parameter systemd.unified_cgroup_hierarchy=1): a working node needs a cgroup v2 host",
    );
  },
};

/** With --offline, every item the run needs must be in the cache: all missing ones in one line. */
export function offlineCacheCheck(cacheDir: string, missing: () => string[]): Check {
  return {
    name: "offline cache",
    run() {
      const lacks = missing();
      if (!lacks.length) return ok(`everything the run needs is in ${cacheDir}`);
      return bad("fail", `the cache ${cacheDir} lacks ${lacks.length} item(s): ${lacks.join("; ")}`, "kube-rootfs fetch on a connected machine, then carry the bundle in");
    },
  };
}
