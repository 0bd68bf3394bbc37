// Reading a small text file that may well be absent (os-release, apt sources, binfmt handlers).
import { readFileSync } from "node:fs";

/** The file's text, or undefined when it cannot be read. */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
