// Facts about the host, detected here unless the goal state gives them (so tests and
// `render` are deterministic).
import { existsSync, readFileSync, statSync } from "node:fs";
import { hostname as osHostname, release } from "node:os";
import { join } from "node:path";
import { readText } from "../fs/read";
import { hostAptSources, mirrorFor } from "./apt-sources";
import { archOf, type Arch } from "./arch";
import { knownDistro } from "./distro";
import { toolPath } from "./tools";

/** The host's own Debian or Ubuntu suite, and the archive its apt uses for it (if any). */
export interface HostSuite {
  suite: string;
  mirror?: string;
}

export interface HostFacts {
  arch: Arch;
  hostname: string;
  kernel: string;
  /** /lib/modules exists on the host (the .nspawn binds it read-only) */
  modules: boolean;
  devices: string[];
  /** the resolver file whose content becomes the rootfs's /etc/resolv.conf */
  resolvConf: string;
  /** undefined on a host that is not Debian or Ubuntu at a suite we know */
  suite?: HostSuite;
  /** mmdebstrap is installed (bootstrap.tool auto prefers it) */
  mmdebstrap?: boolean;
}

export const PASSTHROUGH_DEVICES = ["/dev/kvm", "/dev/net/tun", "/dev/fuse"];

const isCharDevice = (p: string) => {
  try {
    return statSync(p).isCharacterDevice();
  } catch {
    return false;
  }
};

export function detectDevices(root = "/"): string[] {
  return PASSTHROUGH_DEVICES.filter((d) => isCharDevice(join(root, d)));
}

/**
 * The host resolver list to copy: /etc/resolv.conf, unless it only names systemd-resolved's
 * 127.0.0.53 stub, in which case the upstream list resolved keeps beside it.
 */
export function detectResolvConf(etc = "/etc/resolv.conf", upstream = "/run/systemd/resolve/resolv.conf"): string {
  try {
    const servers = readFileSync(etc, "utf8")
      .split("\n")
      .filter((l) => /^\s*nameserver\s/.test(l));
    const onlyStub = servers.length > 0 && servers.every((l) => /\s127\.0\.0\.53\s*$/.test(l));
    if (onlyStub && existsSync(upstream)) return upstream;
  } catch {
    // no /etc/resolv.conf: the copy step reports it
  }
  return etc;
}

/** `KEY=value` lines of an os-release file, quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z_]+)=(.*)$/gm)) out[m[1]!] = m[2]!.trim().replace(/^(["'])(.*)\1$/, "$2");
  return out;
}

/** ID + VERSION_CODENAME when they name a Debian or Ubuntu suite we know, with the host's mirror for it. */
export function detectSuite(osRelease: string, sources = hostAptSources): HostSuite | undefined {
  const { ID: id, VERSION_CODENAME: suite } = parseOsRelease(osRelease);
  if (!suite || !id || knownDistro(suite) !== id) return undefined;
  const mirror = mirrorFor(suite, sources());
  return mirror ? { suite, mirror } : { suite };
}


const DETECT: { [K in keyof Required<HostFacts>]: () => HostFacts[K] } = {
  arch: () => archOf(process.arch),
  hostname: () => osHostname(),
  kernel: () => release(),
  modules: () => existsSync("/lib/modules"),
  devices: () => detectDevices(),
  resolvConf: () => detectResolvConf(),
  suite: () => detectSuite((readText("/etc/os-release") || readText("/usr/lib/os-release")) ?? ""),
  mmdebstrap: () => toolPath("mmdebstrap") !== null,
};

/**
 * The host's facts, each read from the host the first time it is asked for and kept: a goal
 * that gives some (or a run whose plan needs few) costs no look at the others.
 */
export function detectHost(): HostFacts {
  const facts = {} as HostFacts;
  for (const [key, read] of Object.entries(DETECT)) {
    Object.defineProperty(facts, key, {
      enumerable: true,
      configurable: true,
      get() {
        const value = read();
        Object.defineProperty(facts, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return facts;
}
