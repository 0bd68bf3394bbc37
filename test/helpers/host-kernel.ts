// For the tests that let the host task change this host for real (host.root /, under the e2e
// lock): the running kernel's values of every setting the host task may set, saved first, and a
// restore that puts each back and removes the sysctl file if the test made it, so the suite
// leaves the host as it found it.
import { existsSync, rmSync } from "node:fs";
import { readSysctl, writeSysctl } from "../../src/host/sysctl";
import { hostSettings, SYSCTL_FILE } from "../../src/hostprep/settings";
import { STOCK_SYSCTLS } from "./fake-host";
import { testGoal } from "./goal";

/** Every key the host task may set: an IPv6 cluster's, br_netfilter loaded. */
const ALL_KEYS = hostSettings(testGoal({ kubelet: { clusterDNS: ["10.96.0.10", "fd00::a"] } }), { bridge: true }).map((s) => s.key);

export interface SavedKernel {
  /** the values found, by key (keys this kernel lacks are left out) */
  values: Record<string, string>;
  restore(): void;
}

export function saveHostKernel(): SavedKernel {
  const values = Object.fromEntries(ALL_KEYS.flatMap((k) => {
    const v = readSysctl("/", k);
    return v === undefined ? [] : [[k, v]];
  }));
  const hadFile = existsSync(SYSCTL_FILE);
  return {
    values,
    restore() {
      for (const [k, v] of Object.entries(values)) if (readSysctl("/", k) !== v) writeSysctl("/", k, v);
      if (!hadFile) rmSync(SYSCTL_FILE, { force: true });
    },
  };
}

/**
 * Give the running kernel a stock Debian 12 host's values for `keys` (test/helpers/fake-host.ts),
 * whatever an earlier run left: a test of what happens on an unprepared host must not depend on
 * the host being unprepared when the suite starts. Call saveHostKernel first, to put them back.
 */
export function unprepareHostKernel(keys: readonly string[]): void {
  for (const k of keys) {
    const stock = STOCK_SYSCTLS[k];
    if (stock === undefined) throw new Error(`no stock value for ${k} in test/helpers/fake-host.ts`);
    if (readSysctl("/", k) !== stock) writeSysctl("/", k, stock);
  }
}
