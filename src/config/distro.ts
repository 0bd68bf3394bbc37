// What a bootstrap suite means: which distribution, which archive, which pockets.
import { ConfigError } from "../errors";
import type { Arch } from "../host/arch";
import { DEBIAN_SUITES, UBUNTU_SUITES, knownDistro, normaliseMirror, type Distro } from "../host/distro";

export function distroOf(suite: string): Distro {
  const distro = knownDistro(suite);
  if (distro) return distro;
  throw new ConfigError(`bootstrap.suite: unknown suite ${suite} (Ubuntu: ${UBUNTU_SUITES.join(", ")}; Debian: ${DEBIAN_SUITES.join(", ")})`);
}

/** The distribution's own archive for this arch (Ubuntu keeps non-x86 on ports). */
export function defaultMirror(suite: string, arch: Arch): string {
  if (distroOf(suite) === "debian") return "http://deb.debian.org/debian";
  return arch === "amd64" ? "http://archive.ubuntu.com/ubuntu" : "http://ports.ubuntu.com/ubuntu-ports";
}

/** The archive a bootstrap uses: the configured mirror, else the distribution's own. */
export const bootstrapMirror = (suite: string, arch: Arch, mirror: string | undefined) => normaliseMirror(mirror ?? defaultMirror(suite, arch));

export function defaultComponents(suite: string): string[] {
  return distroOf(suite) === "ubuntu" ? ["main", "universe"] : ["main"];
}

export interface AptSource {
  uri: string;
  suite: string;
  components: string[];
}

/** The pockets a node needs: release, updates, backports (Ubuntu) and security. */
export function aptSources(suite: string, arch: Arch, mirror: string | undefined, components: string[]): AptSource[] {
  const base = bootstrapMirror(suite, arch, mirror);
  const src = (uri: string, s: string): AptSource => ({ uri, suite: s, components });
  if (distroOf(suite) === "ubuntu") {
    // Security updates come from security.ubuntu.com for amd64 and from ports otherwise;
    // a configured mirror carries every pocket.
    const security = mirror ? base : arch === "amd64" ? "http://security.ubuntu.com/ubuntu" : base;
    return [src(base, suite), src(base, `${suite}-updates`), src(base, `${suite}-backports`), src(security, `${suite}-security`)];
  }
  if (["sid", "unstable"].includes(suite)) return [src(base, suite)];
  // Debian keeps security in a sibling archive: <mirror>/debian-security beside <mirror>/debian.
  const security = base.endsWith("/debian") ? `${base}-security` : "http://security.debian.org/debian-security";
  return [src(base, suite), src(base, `${suite}-updates`), src(security, `${suite}-security`)];
}
