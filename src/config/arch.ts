// Architecture names: Debian's (amd64, arm64) are the canonical ones; the kernel's, as
// `uname -m` prints them (x86_64, aarch64), are accepted too, so `--arch $(uname -m)` works.
import { ConfigError } from "../errors";

export const ARCHES = ["amd64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];

const ALIASES: Record<string, Arch> = { x86_64: "amd64", aarch64: "arm64" };

/** Every name an architecture may be given by. */
export const ARCH_NAMES = [...ARCHES, "x86_64", "aarch64"] as const;

/** The canonical name of an architecture, or undefined for a name it does not have. */
export const toArch = (name: string): Arch | undefined => ((ARCHES as readonly string[]).includes(name) ? (name as Arch) : ALIASES[name]);

/** A comma-separated list of architectures (fetch's --arch), canonical and without repeats. */
export function parseArchList(raw: string, source: string): Arch[] {
  const names = raw.split(",").map((a) => a.trim()).filter(Boolean);
  const arches = names.map(toArch);
  if (!names.length || arches.includes(undefined)) throw new ConfigError(`${source}: expected a list of ${ARCH_NAMES.join("|")}, got ${raw}`);
  return [...new Set(arches as Arch[])];
}

/** The architectures of a command that takes several: --arch, else KUBE_ROOTFS_ARCH, else (undefined) the host's. */
export function parseArches(flag: string | undefined, env: string | undefined): Arch[] | undefined {
  if (flag !== undefined) return parseArchList(flag, "--arch");
  return env ? parseArchList(env, "KUBE_ROOTFS_ARCH") : undefined;
}
