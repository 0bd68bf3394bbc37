#!/usr/bin/env bun
// Entry point of the executable. No top-level await: bytecode builds may be CommonJS.
import { cli } from "./cli/root";

void cli(process.argv.slice(2)).then((code) => (process.exitCode = code));
