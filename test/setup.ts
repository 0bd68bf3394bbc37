// Preloaded by bun test (bunfig.toml): once every test file has run, remove the temp dirs.
import { afterAll } from "bun:test";
import { removeTempDirs } from "./helpers/tmp";

// The run's mirrors, bundles and rootfs snapshots are gigabytes: deleting them took 7.3 s on a
// loaded 2-core machine, past bun's 5 s default for a hook.
afterAll(removeTempDirs, 120_000);
