// The host's processes as /proc shows them: which systemd-nspawn runs on a machine dir (so it
// also works where the host's systemd is absent or the machine was booted by hand,
// --register=no), each process's name and parent, and whether it runs inside a container.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { basename, join, resolve } from "node:path";

/** The directory a systemd-nspawn command line boots: -D/--directory, else -M/--machine's image. */
export function nspawnDir(argv: string[]): string | undefined {
  if (!argv.length || basename(argv[0]!) !== "systemd-nspawn") return undefined;
  let dir: string | undefined;
  let machine: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (short: string, long: string): string | undefined => {
      if (a === short || a === long) return argv[++i];
      if (a.startsWith(`${long}=`)) return a.slice(long.length + 1);
      if (a.startsWith(short) && a.length > short.length && !a.startsWith("--")) return a.slice(short.length);
      return undefined;
    };
    dir = value("-D", "--directory") ?? dir;
    machine = value("-M", "--machine") ?? machine;
  }
  if (dir) return resolve(dir);
  // Without -D, nspawn boots the image of that name; /var/lib/machines is where ours live.
  return machine ? `/var/lib/machines/${machine}` : undefined;
}

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
};

/** Every pid /proc lists now (none where there is no /proc: a fake host root). */
export function allPids(proc = "/proc"): number[] {
  try {
    return readdirSync(proc).filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

/** Every process /proc lists now, with its name (as /proc/<pid>/comm has it: the first 15 bytes) and parent. */
export const hostProcesses = (proc = "/proc"): ProcessFacts[] =>
  allPids(proc)
    .map((pid) => processFacts(pid, proc))
    .filter((p): p is ProcessFacts => p !== undefined);

export interface ProcessFacts {
  pid: number;
  ppid: number;
  comm: string;
}

/** A process's name and parent (from /proc/<pid>/stat, whose name may hold spaces and parentheses), undefined once it exited. */
export function processFacts(pid: number, proc = "/proc"): ProcessFacts | undefined {
  let stat: string;
  try {
    stat = readFileSync(join(proc, String(pid), "stat"), "utf8");
  } catch {
    return undefined;
  }
  const open = stat.indexOf("(");
  const close = stat.lastIndexOf(")");
  const ppid = Number(stat.slice(close + 2).split(" ")[1]);
  return { pid, ppid, comm: stat.slice(open + 1, close) };
}

/** Whether `pid` descends from one of `ancestors` (or is one). */
export function descendsFrom(pid: number, ancestors: number[], proc = "/proc"): boolean {
  const seen = new Set<number>();
  for (let p: number | undefined = pid; p && !seen.has(p); p = processFacts(p, proc)?.ppid) {
    if (ancestors.includes(p)) return true;
    seen.add(p);
  }
  return false;
}

const pidNamespace = (pid: number | "self" | "1", proc: string) => {
  try {
    return readlinkSync(join(proc, String(pid), "ns/pid"));
  } catch {
    return undefined;
  }
};

/** Whether the process runs in the host's own pid namespace (PID 1's), not inside a machine or container. */
export const onHostItself = (pid: number, proc = "/proc") => {
  const host = pidNamespace("1", proc);
  return host !== undefined && pidNamespace(pid, proc) === host;
};

/** Pids of systemd-nspawn processes booting `dir` (compared after resolving symlinks). */
export function nspawnsOn(dir: string, proc = "/proc"): number[] {
  const want = real(dir);
  return allPids(proc).filter((pid) => {
    let argv: string[];
    try {
      argv = readFileSync(`${proc}/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
      return false; // exited meanwhile
    }
    const booted = nspawnDir(argv);
    return booted !== undefined && real(booted) === want;
  });
}
