// What else on the host gets in the node's way. The machine shares the host's network namespace,
// so kubelet's and kube-proxy's ports must be free there (a holder inside one of this node's own
// machines is the node itself); a Docker daemon or a firewall FORWARD policy of drop throws away
// the pod traffic the node routes; a kubelet on the host itself fights the machine's for the ports.
import { existsSync, lstatSync } from "node:fs";
import { join } from "node:path";
import type { Resolved } from "../config/resolve";
import { forwardPolicy } from "../host/firewall";
import { socketHolders, tcpListeners } from "../host/ports";
import { descendsFrom, hostProcesses, nspawnsOn, onHostItself, type ProcessFacts } from "../host/processes";
import { ConfigError } from "../errors";
import { readHostManifest } from "../hostprep/manifest";
import { bad, ok, type Check } from "./check";

export const NODE_PORTS: ReadonlyArray<readonly [number, string]> = [
  [10250, "kubelet's API"],
  [10248, "kubelet's healthz"],
  [10249, "kube-proxy's metrics"],
  [10256, "kube-proxy's healthz"],
];

const procOf = (goal: Resolved) => join(goal.host.root, "proc");
const named = (p: ProcessFacts) => `pid ${p.pid} (${p.comm})`;

/** The host's processes, read from its /proc when first asked for: the checks given the same list read it once. */
type Processes = () => ProcessFacts[];
function processesOnce(goal: Resolved): Processes {
  let all: ProcessFacts[] | undefined;
  return () => (all ??= hostProcesses(procOf(goal)));
}

/** The processes of that name running on the host itself, not inside a machine or container. */
const onHost = (processes: Processes, comm: string, proc: string) => processes().filter((p) => p.comm === comm && onHostItself(p.pid, proc));

/** The machine dirs of this node: the goal's, and every machine kube-rootfs provisioned on the host (an update's other slot). */
function nodeMachineDirs(goal: Resolved): string[] {
  let recorded: string[] = [];
  try {
    recorded = readHostManifest(goal.host.root)?.machines.map((m) => m.machineDir) ?? [];
  } catch (err) {
    // Unreadable (not root, or damaged): the goal's own machine is still known; root is the blocker then.
    if (!(err instanceof ConfigError)) throw err;
  }
  return [...new Set([goal.machineDir, ...recorded])];
}

export function portsCheck(goal: Resolved): Check {
  return {
    name: "ports",
    run() {
      const proc = procOf(goal);
      const listeners = tcpListeners(proc).filter((l) => NODE_PORTS.some(([port]) => port === l.port));
      const holders = socketHolders(listeners.map((l) => l.inode), proc);
      // Which machines are this node's is asked only of a port that is held.
      let node: number[] | undefined;
      const nodePids = () => (node ??= nodeMachineDirs(goal).flatMap((dir) => nspawnsOn(dir, proc)));
      const foreign: string[] = [];
      const own: string[] = [];
      for (const [port, what] of NODE_PORTS) {
        const held = listeners.filter((l) => l.port === port).flatMap((l) => holders.get(l.inode) ?? []);
        const listening = listeners.some((l) => l.port === port);
        if (!listening) continue;
        const others = held.filter((p) => !descendsFrom(p.pid, nodePids(), proc));
        if (held.length && !others.length) own.push(`${port} by this node's machine (${held.map(named).join(", ")})`);
        else foreign.push(`${port} (${what}) is held by ${others.length ? others.map(named).join(", ") : "a process this user cannot see"}`);
      }
      const free = NODE_PORTS.map(([p]) => p).filter((p) => !listeners.some((l) => l.port === p));
      if (foreign.length) {
        return bad("fail", `${foreign.join("; ")}: the machine shares the host's network, and its kubelet and kube-proxy need these ports`, "stop that process (a kubelet or kube-proxy of another install?) and keep it from starting again");
      }
      return ok([...(free.length ? [`${free.join(", ")} free`] : []), ...(own.length ? [`held: ${own.join("; ")}`] : [])].join("; "));
    },
  };
}

export function dockerCheck(goal: Resolved, processes = processesOnce(goal)): Check {
  return {
    name: "docker",
    run() {
      const daemons = onHost(processes, "dockerd", procOf(goal));
      if (!daemons.length) return ok("no Docker daemon on the host");
      return bad(
        "warn",
        `a Docker daemon runs on the host (${daemons.map(named).join(", ")}): it sets the iptables FORWARD policy to DROP, which drops the pod traffic the node routes`,
        "stop and disable it (systemctl disable --now docker.service docker.socket), or accept pod traffic in its DOCKER-USER chain",
      );
    },
  };
}

export function forwardCheck(goal: Resolved): Check {
  return {
    name: "forward policy",
    waits: true,
    async run() {
      const { drops, read } = await forwardPolicy(procOf(goal));
      if (!read.length) return ok("neither nft nor iptables is installed, or has a table loaded: nothing filters forwarded packets");
      if (!drops.length) return ok(`forwarded packets are accepted (read with ${read.join(", ")})`);
      return bad(
        "warn",
        `${drops.join(", ")} has a policy of drop: the pod traffic the node routes is dropped`,
        "accept forwarding (iptables -P FORWARD ACCEPT, or policy accept in that nft chain) and keep it that way across reboots, or accept the pod and service CIDRs in that chain",
      );
    },
  };
}

/** Where a kubelet unit of a package or another installer lives on the host. */
const KUBELET_UNITS = ["etc/systemd/system/kubelet.service", "lib/systemd/system/kubelet.service", "usr/lib/systemd/system/kubelet.service"];
const KUBELET_ENABLED = "etc/systemd/system/multi-user.target.wants/kubelet.service";

export function hostKubeletCheck(goal: Resolved, processes = processesOnce(goal)): Check {
  return {
    name: "host kubelet",
    run() {
      const root = goal.host.root;
      const running = onHost(processes, "kubelet", procOf(goal));
      const fix = "stop and disable it (systemctl disable --now kubelet), or remove the install it belongs to (apt-get remove kubelet)";
      const clash = "a second kubelet beside the machine's: both want ports 10250 and 10248 and the node's name";
      if (running.length) return bad("fail", `kubelet runs on the host itself (${running.map(named).join(", ")}), ${clash}`, fix);
      // The wants link names the unit by its path on the host: under another root it dangles.
      if (lstatSync(join(root, KUBELET_ENABLED), { throwIfNoEntry: false })) return bad("fail", `kubelet.service is enabled on the host (/${KUBELET_ENABLED}): at boot it starts ${clash}`, fix);
      const unit = KUBELET_UNITS.find((u) => existsSync(join(root, u)));
      if (unit) return bad("warn", `kubelet.service is installed on the host (/${unit}), not enabled: started, it would be ${clash}`, fix);
      return ok("no kubelet on the host itself");
    },
  };
}

/** Every check of what else on the host gets in the node's way (the host's processes read once for all). */
export function neighbourChecks(goal: Resolved): Check[] {
  const processes = processesOnce(goal);
  return [portsCheck(goal), dockerCheck(goal, processes), forwardCheck(goal), hostKubeletCheck(goal, processes)];
}
