// Is a systemd-nspawn running on a machine dir? Asked of /proc, so it also works where the
// host's systemd is absent or the machine was booted by hand (--register=no).
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, resolve } from "node:path";

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

/** Pids of systemd-nspawn processes booting `dir` (compared after resolving symlinks). */
export function nspawnsOn(dir: string, proc = "/proc"): number[] {
  const want = real(dir);
  const pids: number[] = [];
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${proc}/${name}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
      continue; // exited meanwhile
    }
    const booted = nspawnDir(argv);
    if (booted && real(booted) === want) pids.push(Number(name));
  }
  return pids;
}
