#!/usr/bin/env bun
// Entry point of the executable.
// The stage marks come first, so their `start` is taken before any other module runs.
import { mark, reportTimings } from "./engine/timings";
import { cli } from "./cli/root";

mark("loaded");
// The executable starts with the JIT held back (scripts/build.ts: --compile-jit-policy), as code
// run once pays nothing back for being compiled. A run still going after START_UP_MS is doing
// real work (downloads, hashing, unpacking), and gets the normal JIT from then on.
const START_UP_MS = 50;
setTimeout(() => Bun.unsafe.setJITPolicy(1), START_UP_MS).unref();
void cli(process.argv.slice(2)).then((code) => {
  reportTimings();
  process.exitCode = code;
});
