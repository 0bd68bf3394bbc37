// What a bootstrap will run, as data: suite, archive, keyring, script, and the exact argument
// arrays for debootstrap and mmdebstrap. Pure (the filesystem is asked through `exists`), so
// the Ubuntu-on-Debian path is testable without a network or an Ubuntu keyring.
import type { Resolved } from "../../config/resolve";
import type { Arch, BootstrapTool } from "../../config/schema";
import { RunError } from "../../errors";
import { bootstrapMirror, defaultComponents, distroOf } from "../../config/distro";
import type { Distro } from "../../host/distro";

export interface BootstrapPlan {
  tool: BootstrapTool;
  suite: string;
  distro: Distro;
  arch: Arch;
  mirror: string;
  components: string[];
  include: string[];
  /** found by lookupKeyring; when not, keyringError says what to install or pass */
  keyring?: string;
  keyringError?: string;
  /** debootstrap's script for suites it has no script of its own for (noble on a Debian host) */
  script?: string;
}

export const SCRIPTS_DIR = "/usr/share/debootstrap/scripts";

/** Where the distributions' archive keyrings are installed, in order of preference. */
export const KEYRING_PATHS: Record<Distro, string[]> = {
  ubuntu: ["/usr/share/keyrings/ubuntu-archive-keyring.gpg", "/etc/apt/trusted.gpg.d/ubuntu-keyring-2018-archive.gpg"],
  debian: ["/usr/share/keyrings/debian-archive-keyring.gpg"],
};

const KEYRING_PACKAGE: Record<Distro, string> = {
  ubuntu: "ubuntu-keyring (Debian) or ubuntu-archive-keyring (Ubuntu)",
  debian: "debian-archive-keyring",
};

export interface KeyringLookup {
  path?: string;
  /** why none was found, and what to do about it */
  problem?: string;
  fix?: string;
}

/** The keyring that verifies the archive: the configured one, or the first usual path present. */
export function lookupKeyring(suite: string, configured: string | undefined, exists: (p: string) => boolean): KeyringLookup {
  if (configured) return exists(configured) ? { path: configured } : { problem: `bootstrap.keyring ${configured} does not exist`, fix: "pass an existing --bootstrap-keyring FILE" };
  const distro = distroOf(suite);
  const path = KEYRING_PATHS[distro].find(exists);
  if (path) return { path };
  return {
    problem: `no ${distro === "ubuntu" ? "Ubuntu" : "Debian"} archive keyring for suite ${suite} (looked in ${KEYRING_PATHS[distro].join(", ")})`,
    fix: `install ${KEYRING_PACKAGE[distro]}, or pass --bootstrap-keyring FILE`,
  };
}

/**
 * debootstrap knows a suite by its script. A suite newer than the host's debootstrap (noble on
 * Debian 12) runs with the generic script of its family, which Debian links Ubuntu suites to.
 */
export function scriptFor(suite: string, exists: (p: string) => boolean): string | undefined {
  if (exists(`${SCRIPTS_DIR}/${suite}`)) return undefined;
  return `${SCRIPTS_DIR}/${distroOf(suite) === "ubuntu" ? "gutsy" : "sid"}`;
}

export function bootstrapPlan(goal: Resolved, tool: BootstrapTool, exists: (p: string) => boolean): BootstrapPlan {
  const { suite, mirror, components, include, keyring } = goal.bootstrap;
  return {
    tool,
    suite,
    distro: distroOf(suite),
    arch: goal.arch,
    mirror: bootstrapMirror(suite, goal.arch, mirror),
    components: components ?? defaultComponents(suite),
    include: [...include],
    ...keyringOrNothing(suite, keyring, exists),
    ...(tool === "debootstrap" ? { script: scriptFor(suite, exists) } : {}),
  };
}

// A restore from a snapshot needs no keyring, so a missing one is only an error once a
// bootstrap tool is about to run.
function keyringOrNothing(suite: string, configured: string | undefined, exists: (p: string) => boolean): Pick<BootstrapPlan, "keyring" | "keyringError"> {
  const k = lookupKeyring(suite, configured, exists);
  return k.path ? { keyring: k.path } : { keyringError: `${k.problem}: ${k.fix}` };
}

function keyringOf(p: BootstrapPlan): string {
  if (p.keyring) return p.keyring;
  throw new RunError(p.keyringError ?? "no archive keyring");
}

/**
 * debootstrap with signature checks forced on (it would otherwise skip them when gpgv is
 * missing) and its .deb cache outside the target, so a second run downloads nothing.
 */
export function debootstrapArgv(p: BootstrapPlan, target: string, debCache: string): string[] {
  return [
    "debootstrap",
    `--arch=${p.arch}`,
    "--variant=minbase",
    `--components=${p.components.join(",")}`,
    `--include=${p.include.join(",")}`,
    `--keyring=${keyringOf(p)}`,
    "--force-check-gpg",
    `--cache-dir=${debCache}`,
    p.suite,
    target,
    p.mirror,
    ...(p.script ? [p.script] : []),
  ];
}

/**
 * mmdebstrap has no cache option: its documented sync-in/sync-out hooks copy the .deb cache in
 * before apt runs and out again before cleanup. Hook arguments are mmdebstrap commands, split on
 * whitespace, so the cache path must not contain any.
 */
export function mmdebstrapArgv(p: BootstrapPlan, target: string, debCache: string): string[] {
  if (/\s/.test(debCache)) throw new RunError(`mmdebstrap: cache dir ${debCache} must not contain whitespace`);
  return [
    "mmdebstrap",
    "--mode=root",
    "--format=directory",
    "--variant=minbase",
    `--arch=${p.arch}`,
    `--components=${p.components.join(",")}`,
    `--include=${p.include.join(",")}`,
    `--keyring=${keyringOf(p)}`,
    "--skip=essential/unlink",
    '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
    `--setup-hook=sync-in ${debCache} /var/cache/apt/archives/`,
    `--customize-hook=sync-out /var/cache/apt/archives ${debCache}`,
    p.suite,
    target,
    p.mirror,
  ];
}

export const toolArgv = (p: BootstrapPlan, target: string, debCache: string) =>
  p.tool === "debootstrap" ? debootstrapArgv(p, target, debCache) : mmdebstrapArgv(p, target, debCache);
