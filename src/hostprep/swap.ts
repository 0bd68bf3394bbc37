// host.swap off: every active swap area turned off now (swapoff), and the fstab lines that would
// turn it on again at boot commented out (the original fstab kept once beside it). reset puts the
// lines back.
import { existsSync, readFileSync, statSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import type { TaskContext } from "../engine/task";
import { RunError } from "../errors";
import { writeFileAtomic } from "../fs/atomic";
import { resolveInside } from "../fs/inside";
import { hostRel } from "../fs/target";
import { activeSwaps, fstabSwapLines } from "../host/swap";
import { must } from "../engine/command";
import { updateHostManifest, type FstabChange } from "./manifest";

export const FSTAB = "/etc/fstab";
export const FSTAB_BACKUP = "/etc/fstab.kube-rootfs.bak";
/** What a commented-out line starts with: reset finds them by it. */
export const SWAP_COMMENT = "# swap off by kube-rootfs (host.swap off): ";

/** The fstab with its swap lines commented out, and those lines as they were. */
export function commentSwapLines(fstab: string): { text: string; lines: string[] } {
  const at = new Set(fstabSwapLines(fstab));
  const all = fstab.split("\n");
  return { text: all.map((l, i) => (at.has(i) ? SWAP_COMMENT + l : l)).join("\n"), lines: all.filter((_, i) => at.has(i)) };
}

/** The fstab with the lines kube-rootfs commented out put back (lines an admin changed since stay as they are). */
export function uncommentSwapLines(fstab: string, lines: string[]): string {
  const ours = new Set(lines.map((l) => SWAP_COMMENT + l));
  return fstab
    .split("\n")
    .map((l) => (ours.has(l) ? l.slice(SWAP_COMMENT.length) : l))
    .join("\n");
}

const fileMode = (path: string) => statSync(path).mode & 0o7777;

/** Turn the host's swap off now and at boot; whether anything changed (or would). */
export async function turnSwapOff(goal: Resolved, ctx: TaskContext): Promise<boolean> {
  const root = goal.host.root;
  const active = activeSwaps(root);
  for (const area of active) {
    if (ctx.dryRun) ctx.log.info("would turn swap off", { area });
    else {
      await must(["swapoff", area]).catch((err: unknown) => {
        throw new RunError(`host.swap off: ${(err as Error).message}`);
      });
      ctx.log.info("turned swap off", { area });
    }
  }
  const fstab = resolveInside(root, hostRel(FSTAB));
  if (!existsSync(fstab)) return active.length > 0;
  const { text, lines } = commentSwapLines(readFileSync(fstab, "utf8"));
  if (!lines.length) return active.length > 0;
  if (ctx.dryRun) {
    ctx.log.info("would comment out swap lines", { path: fstab, lines });
    return true;
  }
  const backup = resolveInside(root, hostRel(FSTAB_BACKUP));
  // Kept once: a later run must not replace the original with an already edited copy.
  if (!existsSync(backup)) await writeFileAtomic(backup, readFileSync(fstab), fileMode(fstab));
  // Recorded before the edit: a run killed between the two leaves reset a line it does not find, never one it does not know.
  await updateHostManifest(root, (m) => {
    const before: FstabChange = m.fstab ?? { path: FSTAB, backup: FSTAB_BACKUP, lines: [] };
    return { ...m, fstab: { ...before, lines: [...new Set([...before.lines, ...lines])] } };
  });
  await writeFileAtomic(fstab, text, fileMode(fstab));
  ctx.log.info("commented out swap lines", { path: fstab, lines, backup });
  return true;
}
