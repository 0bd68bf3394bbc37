#!/usr/bin/env bun
// Entry point of the executable. No top-level await: bytecode builds may be CommonJS.
// The stage marks come first, so their `start` is taken before any other module runs.
import { mark, reportTimings } from "./engine/timings";
import { cli } from "./cli/root";

mark("loaded");
void cli(process.argv.slice(2))
  .then(async (code) => {
    await reportTimings();
    return code;
  })
  .then((code) => (process.exitCode = code));
