// Lists of architectures a command is given (fetch's --arch, KUBE_ROOTFS_ARCH), by any of the
// names src/host/arch.ts knows.
import { ConfigError } from "../errors";
import { ARCH_NAMES, toArch, type Arch } from "../host/arch";

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
