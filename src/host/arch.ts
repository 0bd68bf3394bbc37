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

/** The host's architecture from Node's name for it (process.arch). */
export function archOf(nodeArch: string): Arch {
  if (nodeArch === "x64") return "amd64";
  if (nodeArch === "arm64") return "arm64";
  throw new ConfigError(`arch: host architecture ${nodeArch} is not supported; pass --arch amd64|arm64`);
}
