// Running another architecture's binaries (a bootstrap's maintainer scripts, the machine
// itself) needs the kernel's binfmt_misc to hand them to qemu-user. The handler must carry the
// F (fix-binary) flag: the kernel then opens the interpreter once at registration, so it also
// works inside a machine whose rootfs has no qemu. Pure: files are read through `read`.
import type { Arch } from "../config/schema";
import { RunError } from "../errors";
import { readText } from "../fs/read";

export const BINFMT_DIR = "/proc/sys/fs/binfmt_misc";

/** The name Debian's qemu-user-static registers each architecture's handler under. */
export const QEMU_HANDLER: Record<Arch, string> = { amd64: "qemu-x86_64", arm64: "qemu-aarch64" };

export interface EmulationProblem {
  problem: string;
  fix: string;
}

export type ReadText = (path: string) => string | undefined;


/** Why `arch` binaries cannot run on a `host` host, with the fix; undefined when they can. */
export function emulationProblem(arch: Arch, host: Arch, read: ReadText = readText): EmulationProblem | undefined {
  if (arch === host) return undefined;
  const name = QEMU_HANDLER[arch];
  const install = "apt-get install qemu-user-static binfmt-support";
  const enable = `update-binfmts --enable ${name}`;
  if (read(`${BINFMT_DIR}/status`) === undefined) {
    return {
      problem: `${arch} on an ${host} host needs binfmt_misc, which is not mounted at ${BINFMT_DIR}`,
      fix: `${install}; mount -t binfmt_misc binfmt_misc ${BINFMT_DIR}; ${enable}`,
    };
  }
  const handler = read(`${BINFMT_DIR}/${name}`);
  if (handler === undefined) return { problem: `${arch} on an ${host} host needs the ${name} binfmt handler, which is not registered`, fix: `${install}; ${enable}` };
  if (!/^enabled$/m.test(handler)) return { problem: `the ${name} binfmt handler is disabled`, fix: enable };
  const flags = /^flags: *(\S*)$/m.exec(handler)?.[1] ?? "";
  if (!flags.includes("F")) {
    return {
      problem: `the ${name} binfmt handler lacks the F (fix-binary) flag, so it cannot run inside the machine`,
      fix: `register Debian's qemu-user-static handler: update-binfmts --disable ${name}; ${enable}`,
    };
  }
  return undefined;
}

/** Throws the problem and its fix as one line when `arch` cannot run here. */
export function requireEmulation(arch: Arch, host: Arch, read: ReadText = readText): void {
  const p = emulationProblem(arch, host, read);
  if (p) throw new RunError(`${p.problem} (fix: ${p.fix})`);
}
