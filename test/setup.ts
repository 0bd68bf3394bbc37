// Preloaded by bun test (bunfig.toml): once every test file has run, remove the temp dirs, and,
// in a whole-suite run (scripts/test.ts sets TEST_HOST_GUARD), fail if the suite left this host
// changed: its kernel settings, the host task's sysctl file or the host manifest. Every test that
// means the real host saves and puts back what it changes; a run of the CLI that forgot the fake
// host root (test/helpers/binary.ts testEnv) would otherwise prepare the host unnoticed and make
// later tests of an unprepared host fail far from the cause. A run of a few files leaves the guard
// off: on a shared machine another run may hold the host changed while it ends.
import { afterAll } from "bun:test";
import { saveRealHost } from "./helpers/real-host";
import { removeTempDirs } from "./helpers/tmp";

const guarded = process.env.TEST_HOST_GUARD === "1" ? saveRealHost() : undefined;

// The run's mirrors, bundles and rootfs snapshots are gigabytes: deleting them took 7.3 s on a
// loaded 2-core machine, past bun's 5 s default for a hook.
afterAll(removeTempDirs, 120_000);

afterAll(() => {
  const changed = guarded?.changes() ?? [];
  if (!changed.length) return;
  guarded!.restore();
  throw new Error(`the suite left this host changed (now put back): ${changed.join("; ")}`);
});
