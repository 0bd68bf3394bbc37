// The host's swap: what is active now (/proc/swaps) and which /etc/fstab lines turn it on at boot.
import { join } from "node:path";
import { readText } from "../fs/read";

/** /proc/swaps escapes a space in a path as \040, and a few other bytes the same way (octal). */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** The active swap areas (files or partitions) by path, from <root>/proc/swaps. */
export function activeSwaps(root: string): string[] {
  const text = readText(join(root, "proc/swaps")) ?? "";
  return text
    .split("\n")
    .slice(1) // the header: Filename Type Size Used Priority
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((f): f is string => Boolean(f))
    .map(unescape);
}

/** Indexes of the fstab lines that mount swap (type field `swap`), commented-out ones not included. */
export function fstabSwapLines(fstab: string): number[] {
  return fstab.split("\n").flatMap((line, i) => {
    const fields = line.trim().split(/\s+/);
    return !line.trim().startsWith("#") && fields[2] === "swap" ? [i] : [];
  });
}
