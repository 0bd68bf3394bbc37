// The goal state with every derived default and host fact filled in: what tasks read.
import { normaliseMirror } from "../host/distro";
import { detectHost, type HostFacts } from "../host/facts";
import { detectNvidia, hasNvidiaControl, hasNvidiaGpu, type NvidiaHost } from "../host/nvidia";
import { distroOf } from "./distro";
import { activeSwaps } from "../host/swap";
import type { Arch, BootstrapTool, Goal } from "./schema";

/** Where the bootstrap suite came from: the goal, the host's own, or the default. */
export type SuiteFrom = "given" | "host" | "default";

export const DEFAULT_SUITE = "noble";

export interface ResolvedBootstrap extends Omit<Goal["bootstrap"], "tool"> {
  suite: string;
  suiteFrom: SuiteFrom;
  tool: BootstrapTool;
}

export interface Resolved extends Goal {
  /** the goal as given, before derived paths and host facts were filled in (what provision saves) */
  given: Goal;
  machineDir: string;
  nspawnConfigFile: string;
  serviceOverrideFile: string;
  arch: Arch;
  hostname: string;
  hostKernel: string;
  hostModules: boolean;
  hostDevices: string[];
  gpu: ResolvedGpu;
  host: ResolvedHost;
  hostResolvConf: string;
  versions: Goal["versions"] & { crictl: string };
  bootstrap: ResolvedBootstrap;
  /** pre-loaded image → its platform manifest's digest for this arch, from --lock */
  imagePins?: Record<string, string>;
}

type HostGoal = Goal["host"];

export interface ResolvedHost extends HostGoal {
  /** the swap areas active on the host (under host.root) when the goal was resolved */
  swaps: string[];
}

type GpuGoal = Goal["gpu"];

export interface ResolvedGpu extends GpuGoal {
  /** the host's NVIDIA facts when GPU support is on: mode auto or nvidia, on a host with the control node and a GPU */
  on?: NvidiaHost;
}

/**
 * mode nvidia without a GPU stays off here; readiness says why and stops the run. With mode none
 * the host is not looked at, nor beyond one stat on a host without the control node (most hosts).
 */
function resolveGpu(gpu: GpuGoal, arch: Arch): ResolvedGpu {
  if (gpu.mode === "none" || !hasNvidiaControl(gpu.hostRoot)) return { ...gpu };
  const found = detectNvidia(gpu.hostRoot, arch);
  return hasNvidiaGpu(found.devices) ? { ...gpu, on: found } : { ...gpu };
}

/** crictl follows the Kubernetes minor: 1.33.1 → 1.33.0. */
export const crictlFor = (kubernetes: string) => kubernetes.split(".").slice(0, 2).join(".") + ".0";

/** Where a machine's files go: from its name unless given. */
export function machinePaths(goal: Goal) {
  const m = goal.machine;
  return {
    machineDir: goal.machineDir ?? `/var/lib/machines/${m}`,
    nspawnConfigFile: goal.nspawnConfigFile ?? `/etc/systemd/nspawn/${m}.nspawn`,
    serviceOverrideFile: goal.serviceOverrideFile ?? `/etc/systemd/system/systemd-nspawn@${m}.service.d/override.conf`,
  };
}

/** Fill derived paths and host facts. `detect` is only called for facts the goal leaves open. */
export function resolveGoal(goal: Goal, detect: () => HostFacts = detectHost): Resolved {
  let host: HostFacts | undefined;
  const fact = <K extends keyof HostFacts>(k: K): HostFacts[K] => (host ??= detect())[k];
  const arch = goal.arch ?? fact("arch");
  return {
    ...goal,
    given: goal,
    ...machinePaths(goal),
    arch,
    hostname: goal.hostname ?? fact("hostname"),
    hostKernel: goal.hostKernel ?? fact("kernel"),
    hostModules: goal.hostModules ?? fact("modules"),
    hostDevices: goal.hostDevices ?? fact("devices"),
    gpu: resolveGpu(goal.gpu, arch),
    host: { ...goal.host, swaps: activeSwaps(goal.host.root) },
    hostResolvConf: goal.hostResolvConf ?? fact("resolvConf"),
    versions: { ...goal.versions, crictl: goal.versions.crictl ?? crictlFor(goal.versions.kubernetes) },
    bootstrap: resolveBootstrap(goal.bootstrap, arch, fact),
  };
}

/**
 * The suite follows the host when not given: its own Debian or Ubuntu suite (whose keyring it
 * has) from the mirror its apt uses, else noble. `auto` becomes mmdebstrap when installed. An
 * unknown suite is a usage error here, before anything runs.
 */
function resolveBootstrap(b: Goal["bootstrap"], arch: Arch, fact: <K extends keyof HostFacts>(k: K) => HostFacts[K]): ResolvedBootstrap {
  const tool: BootstrapTool = b.tool !== "auto" ? b.tool : fact("mmdebstrap") ? "mmdebstrap" : "debootstrap";
  const mirror = b.mirror && normaliseMirror(b.mirror);
  if (b.suite) {
    distroOf(b.suite);
    return { ...b, tool, suite: b.suite, suiteFrom: "given", ...(mirror ? { mirror } : {}) };
  }
  const host = fact("suite");
  if (!host) return { ...b, tool, suite: DEFAULT_SUITE, suiteFrom: "default", ...(mirror ? { mirror } : {}) };
  // The host's mirror carries its own arch; another arch may live elsewhere (Ubuntu ports).
  const hostMirror = arch === fact("arch") ? host.mirror : undefined;
  const chosen = mirror ?? hostMirror;
  return { ...b, tool, suite: host.suite, suiteFrom: "host", ...(chosen ? { mirror: chosen } : {}) };
}

/** The suite as the plan names it: `bookworm (the host's)`. */
export function describeSuite(b: Pick<ResolvedBootstrap, "suite" | "suiteFrom">): string {
  if (b.suiteFrom === "host") return `${b.suite} (the host's)`;
  if (b.suiteFrom === "default") return `${b.suite} (default: the host is not a Debian or Ubuntu we know)`;
  return b.suite;
}
