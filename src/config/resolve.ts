// The goal state with every derived default and host fact filled in: what tasks read.
import { detectHost, type HostFacts } from "./host";
import type { Arch, Goal } from "./schema";

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
  gpuDevices: string[];
  gpuLibraries: string[];
  hostResolvConf: string;
  versions: Goal["versions"] & { crictl: string };
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
  return {
    ...goal,
    given: goal,
    ...machinePaths(goal),
    arch: goal.arch ?? fact("arch"),
    hostname: goal.hostname ?? fact("hostname"),
    hostKernel: goal.hostKernel ?? fact("kernel"),
    hostModules: goal.hostModules ?? fact("modules"),
    hostDevices: goal.hostDevices ?? fact("devices"),
    gpuDevices: goal.gpuDevices ?? fact("gpuDevices"),
    gpuLibraries: goal.gpuLibraries ?? fact("gpuLibraries"),
    hostResolvConf: goal.hostResolvConf ?? fact("resolvConf"),
    versions: { ...goal.versions, crictl: goal.versions.crictl ?? crictlFor(goal.versions.kubernetes) },
  };
}
