// The Debian and Ubuntu suites kube-rootfs knows, to tell which distribution a suite (the
// host's own, or the one a goal bootstraps) belongs to.

export type Distro = "ubuntu" | "debian";

export const UBUNTU_SUITES = ["focal", "jammy", "noble", "oracular", "plucky", "questing", "resolute"];
export const DEBIAN_SUITES = ["bullseye", "bookworm", "trixie", "forky", "duke", "sid", "unstable", "testing", "stable", "oldstable"];

/** The distribution of a suite we know, or undefined. */
export function knownDistro(suite: string): Distro | undefined {
  if (UBUNTU_SUITES.includes(suite)) return "ubuntu";
  if (DEBIAN_SUITES.includes(suite)) return "debian";
  return undefined;
}

/** A mirror as every consumer compares and joins it: no trailing slashes. */
export const normaliseMirror = (url: string) => url.replace(/\/+$/, "");
