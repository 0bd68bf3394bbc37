// citty's defineCommand without loading citty: it only gives a command its types, and citty (with
// node:util) loads when root.ts parses a command's arguments, not when --help lists its options.
import type { ArgsDef, CommandDef } from "citty";

export const defineCommand = <T extends ArgsDef = ArgsDef>(def: CommandDef<T>): CommandDef<T> => def;
