// citty's defineCommand without loading citty: it only gives a command its types. Arguments are
// parsed by flags.ts (as citty's parser would, without node:util).
import type { ArgsDef, CommandDef } from "citty";

export const defineCommand = <T extends ArgsDef = ArgsDef>(def: CommandDef<T>): CommandDef<T> => def;
