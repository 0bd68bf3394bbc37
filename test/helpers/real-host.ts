// For the e2e tests that let provision's host phase change this machine itself (host.root /): what
// it changes (kernel settings, its sysctl file, the host manifest, swap) saved first and put back
// after, so the suite leaves the host as it found it. Only inside an e2e run under the shared lock.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { HOST_MANIFEST } from "../../src/hostprep/manifest";
import { SYSCTL_FILE } from "../../src/hostprep/settings";
import { readSysctl } from "../../src/host/sysctl";
import { saveHostKernel, type SavedKernel } from "./host-kernel";

export interface SavedHost {
  /** the kernel's values as found (test/helpers/host-kernel.ts) */
  kernel: SavedKernel;
  /** Put everything back as found: the kernel settings, the sysctl file, the host manifest and its dir. */
  restore(): void;
  /** What differs now from what was found, a phrase each (none: the host is as found). */
  changes(): string[];
}

export function saveRealHost(): SavedHost {
  const kernel = saveHostKernel();
  const files = [SYSCTL_FILE, HOST_MANIFEST].map((path) => ({ path, content: existsSync(path) ? readFileSync(path) : undefined }));
  const manifestDir = dirname(HOST_MANIFEST);
  const hadManifestDir = existsSync(manifestDir);
  return {
    kernel,
    restore() {
      kernel.restore();
      for (const f of files) {
        if (f.content === undefined) rmSync(f.path, { force: true });
        else writeFileSync(f.path, f.content);
      }
      if (!hadManifestDir) rmSync(manifestDir, { recursive: true, force: true });
    },
    changes() {
      const kernelChanges = Object.entries(kernel.values).flatMap(([k, v]) => {
        const now = readSysctl("/", k);
        return now === v ? [] : [`${k} ${v} → ${now}`];
      });
      const fileChanges = files.flatMap((f) => {
        const now = existsSync(f.path) ? readFileSync(f.path) : undefined;
        if (now === undefined && f.content === undefined) return [];
        if (now !== undefined && f.content !== undefined && now.equals(f.content)) return [];
        return [`${f.path} ${f.content === undefined ? "made" : now === undefined ? "removed" : "changed"}`];
      });
      return [...kernelChanges, ...fileChanges];
    },
  };
}

/** A swap file turned on in the running kernel, for a test; `off` turns it off (if still on) and deletes it. */
export interface TestSwap {
  path: string;
  /** its line in /proc/swaps */
  line: string;
  off(): void;
}

const swapsText = () => readFileSync("/proc/swaps", "utf8");

export function swapOn(dir: string, mib = 32): TestSwap {
  const path = `${dir}/kube-rootfs-test.swap`;
  const off = () => {
    if (swapsText().includes(`${path} `)) Bun.spawnSync(["swapoff", path]);
    rmSync(path, { force: true });
  };
  const step = (argv: string[]) => {
    const r = Bun.spawnSync(argv, { stderr: "pipe" });
    if (r.exitCode !== 0) {
      off();
      throw new Error(`${argv.join(" ")}: ${r.stderr.toString().trim()}`);
    }
  };
  step(["dd", "if=/dev/zero", `of=${path}`, "bs=1M", `count=${mib}`, "status=none"]);
  step(["chmod", "600", path]);
  step(["mkswap", path]);
  step(["swapon", path]);
  const line = swapsText().split("\n").find((l) => l.startsWith(`${path} `));
  if (!line) {
    off();
    throw new Error(`swapon ${path}: not in /proc/swaps`);
  }
  return { path, line, off };
}
