// zod as every schema here uses it: zod/mini (the same package, core, parse and messages as the
// classic API, whose module and method-built schemas, each method bound to its instance on first
// use and .describe() cloning, cost a warm run ~10 ms of its start-up), with the English messages
// the classic API loads by itself and mini does not.
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

// A run parses each schema once or twice: zod's compiled fast path (new Function per schema)
// costs more to build than it saves (measured: a first parse ~10 ms compiled, ~4 ms without).
config({ ...en(), jitless: true });

export * as z from "zod/mini";
