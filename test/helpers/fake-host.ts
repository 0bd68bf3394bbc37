// A fake host root for host.root: /proc/sys, /proc/swaps and /etc under a temp dir, so the host
// task writes and applies there and the suite never changes the machine it runs on. Tests that
// mean the real host pass host.root / themselves (and save and restore what they change).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sysctlPath } from "../../src/host/sysctl";
import { tempDir } from "./tmp";

/** The kernel values of a stock Debian 12 host (measured on this machine kind), br_netfilter loaded. */
export const STOCK_SYSCTLS: Record<string, string> = {
  "vm.overcommit_memory": "0",
  "vm.panic_on_oom": "0",
  "kernel.panic": "1",
  "kernel.panic_on_oops": "0",
  "kernel.keys.root_maxkeys": "1000000",
  "kernel.keys.root_maxbytes": "25000000",
  "net.ipv4.ip_forward": "0",
  "net.ipv6.conf.all.forwarding": "0",
  "net.bridge.bridge-nf-call-iptables": "0",
  "net.bridge.bridge-nf-call-ip6tables": "0",
  "net.ipv4.conf.all.rp_filter": "0",
  "net.ipv4.conf.default.rp_filter": "2",
  "fs.inotify.max_user_instances": "128",
  "fs.inotify.max_user_watches": "65536",
};

export interface FakeHostOptions {
  sysctls?: Record<string, string | undefined>;
  /** lines of /proc/swaps after its header */
  swaps?: string[];
  fstab?: string;
}

/** A new fake host root (in `root`, else a temp dir): the stock values, with `sysctls` over them (undefined: the kernel lacks the key). */
export function fakeHostRoot(opts: FakeHostOptions = {}, root = tempDir("host")): string {
  for (const [key, value] of Object.entries({ ...STOCK_SYSCTLS, ...opts.sysctls })) {
    if (value === undefined) continue;
    const path = sysctlPath(root, key);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, `${value}\n`);
  }
  writeFileSync(join(root, "proc/swaps"), ["Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority", ...(opts.swaps ?? [])].join("\n") + "\n");
  mkdirSync(join(root, "etc"), { recursive: true });
  if (opts.fstab !== undefined) writeFileSync(join(root, "etc/fstab"), opts.fstab);
  return root;
}

let shared: string | undefined;

/** The fake host root every test run of the CLI and every test goal gets unless it names one. */
export const defaultHostRoot = () => (shared ??= fakeHostRoot());
