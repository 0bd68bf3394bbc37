// Which directories `remove` may delete. The rule, checked before anything is touched:
//   1. never `/`, a top-level directory (/srv, /var, /home), or a directory the host's OS or
//      the machines share (/var/lib/machines, /var/lib, /var/cache, /usr/…, /etc/…);
//   2. never a symlink (the goal names the link, not what it points to);
//   3. the machine dir's last component is the machine's name (/var/lib/machines/kube1 for
//      kube1), unless the dir was named on the command line with --machine-dir: a config file or
//      env var shared by several machines must not be able to aim one removal at another dir;
//   4. the machine dir does not hold the cache dir that is being kept.
import { lstatSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { Resolved } from "../config/resolve";

/** Trees the OS owns: nothing under them is ever a machine dir. */
const SYSTEM_TREES = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin", "/sys", "/usr"];
/** Shared parents of machines, caches and logs. */
const SHARED_DIRS = ["/var/lib", "/var/lib/machines", "/var/cache", "/var/log", "/var/tmp", "/var/spool", "/run/systemd", "/home"];

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir + "/");

/** Why `dir` may never be deleted, or undefined. */
export function systemDirProblem(dir: string): string | undefined {
  const p = resolve(dir);
  if (p === "/") return "is /";
  if (p.split("/").filter(Boolean).length < 2) return "is a top-level directory";
  const tree = SYSTEM_TREES.find((t) => inside(p, t));
  if (tree) return `is inside ${tree}, which the host's OS owns`;
  if (SHARED_DIRS.includes(p)) return "is a directory the host shares between machines";
  return undefined;
}

export interface RemovalTarget {
  goal: Resolved;
  /** --machine-dir was given on the command line */
  dirOnCommandLine: boolean;
  purgeCache: boolean;
}

/** Every reason to refuse the removal, one line each (empty: go ahead). */
export function removalProblems(t: RemovalTarget, isSymlink = (p: string) => lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() ?? false): string[] {
  const { goal } = t;
  const dir = resolve(goal.machineDir);
  const problems: string[] = [];
  const sys = systemDirProblem(dir);
  if (sys) problems.push(`machine dir ${dir} ${sys}; refusing to remove it`);
  else if (isSymlink(dir)) problems.push(`machine dir ${dir} is a symlink; remove the directory it points to by naming it with --machine-dir`);
  else if (basename(dir) !== goal.machine && !t.dirOnCommandLine)
    problems.push(`machine dir ${dir} does not end in the machine's name ${goal.machine}; name it on the command line (--machine-dir ${dir}) to remove it`);
  const cache = resolve(goal.cacheDir);
  if (t.purgeCache) {
    const bad = systemDirProblem(cache);
    if (bad) problems.push(`cache dir ${cache} ${bad}; refusing to purge it`);
  } else if (inside(cache, dir)) problems.push(`cache dir ${cache} is inside machine dir ${dir}; move the cache or add --purge-cache`);
  return problems;
}
