// A bare Debian host, made for real: a minbase root of the host's own suite from the mirror the
// host's apt uses, with the host's apt configuration, entered by chroot from a private mount
// namespace of its own. /dev, /proc and /sys are mounted in that namespace only, so nothing
// this root mounts (setup.sh mounts binfmt_misc) reaches the host, and once the namespace is
// gone the tree is plain files to remove. Maintainer scripts start no service (policy-rc.d).
import { chmodSync, cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, type RunResult } from "./binary";

const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const BIN_DIRS = ["usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"];

export interface BareRoot {
  dir: string;
  /** Run argv chrooted in the root, with a clean environment (plus `env`). */
  exec(argv: string[], env?: Record<string, string>): Promise<RunResult>;
  /** Move a command out of the root's PATH until `restore` is called. */
  hide(cmd: string): { restore(): void };
  /** End the namespace (its mounts go with it) and remove the tree. */
  dispose(): Promise<void>;
}

const sameMountNamespace = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/mountinfo`, "utf8") === readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return true;
  }
};

export async function bareRoot(dir: string, apt: { suite: string; mirror: string }, log: string): Promise<BareRoot> {
  const mm = Bun.spawn(["mmdebstrap", "--mode=root", "--format=directory", "--variant=minbase", "--components=main", apt.suite, dir, apt.mirror], {
    stdin: "ignore",
    stdout: Bun.file(log),
    stderr: Bun.file(log),
  });
  if ((await mm.exited) !== 0) throw new Error(`mmdebstrap of the bare root failed: ${(await Bun.file(log).text()).slice(-2000)}`);
  // The host's apt configuration in place of the one mmdebstrap wrote: its sources, keyrings and settings.
  rmSync(join(dir, "etc/apt"), { recursive: true, force: true });
  cpSync("/etc/apt", join(dir, "etc/apt"), { recursive: true });
  cpSync("/etc/resolv.conf", join(dir, "etc/resolv.conf"), { dereference: true });
  writeFileSync(join(dir, "usr/sbin/policy-rc.d"), "#!/bin/sh\n# a bare root for tests: maintainer scripts start no service\nexit 101\n");
  chmodSync(join(dir, "usr/sbin/policy-rc.d"), 0o755);

  const ns = Bun.spawn(["unshare", "--mount", "--propagation", "private", "--", "sleep", "infinity"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  for (let i = 0; sameMountNamespace(ns.pid); i++) {
    if (i > 200) throw new Error("unshare --mount did not start");
    await Bun.sleep(10);
  }
  const inNamespace = (argv: string[], env: Record<string, string> = {}) =>
    run(["nsenter", "-t", String(ns.pid), "-m", "--", "env", "-i", PATH, "HOME=/root", "LANG=C.UTF-8", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv]);
  for (const argv of [
    ["mount", "--rbind", "/dev", join(dir, "dev")],
    ["mount", "-t", "proc", "proc", join(dir, "proc")],
    ["mount", "--rbind", "/sys", join(dir, "sys")],
  ]) {
    const r = await inNamespace(argv);
    if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  }

  return {
    dir,
    exec: (argv, env) => inNamespace(["chroot", dir, ...argv], env),
    hide(cmd) {
      const at = BIN_DIRS.map((d) => join(dir, d, cmd)).find((p) => existsSync(p));
      if (!at) throw new Error(`${cmd} is not in the bare root`);
      renameSync(at, `${at}.hidden`);
      return { restore: () => renameSync(`${at}.hidden`, at) };
    },
    async dispose() {
      ns.kill("SIGKILL");
      await ns.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
