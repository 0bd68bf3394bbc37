// The goal state with every derived default and host fact filled in: what tasks read.
import { detectHost, type HostFacts } from "./host";
import type { Arch, Goal } from "./schema";

export interface Resolved extends Goal {
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

/** Fill derived paths and host facts. `detect` is only called for facts the goal leaves open. */
export function resolveGoal(goal: Goal, detect: () => HostFacts = detectHost): Resolved {
  let host: HostFacts | undefined;
  const fact = <K extends keyof HostFacts>(k: K): HostFacts[K] => (host ??= detect())[k];
  const m = goal.machine;
  return {
    ...goal,
    machineDir: goal.machineDir ?? `/var/lib/machines/${m}`,
    nspawnConfigFile: goal.nspawnConfigFile ?? `/etc/systemd/nspawn/${m}.nspawn`,
    serviceOverrideFile: goal.serviceOverrideFile ?? `/etc/systemd/system/systemd-nspawn@${m}.service.d/override.conf`,
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
