// The idle slot's old rootfs is renamed aside before the new one is provisioned and deleted once
// the upgrade has said it is done (the node switched and recorded): deleting a whole rootfs takes
// seconds that neither the node nor the run's outcome wait for, and deleting it before the
// restore or during the new machine's boot would slow both (this disk discards what is freed).
// The run still ends only once it is deleted: nothing of it goes on in the background. A killed
// run's retired trees are swept by the next upgrade.
import { renameSync } from "node:fs";
import { RunError } from "../errors";
import { ioError } from "../fs/atomic";
import { removeTree, runTreesBeside } from "../fs/tree";
import { nspawnsOn } from "../host/processes";

const MARK = ".retired-";

/** Move `dir` aside (one rename, nothing deleted yet); the path it now has. */
export function retire(dir: string): string {
  const users = nspawnsOn(dir);
  if (users.length) throw new RunError(`${dir}: systemd-nspawn (pid ${users.join(", ")}) runs on the idle slot; stop it first`);
  const aside = `${dir}${MARK}${process.pid}`;
  try {
    renameSync(dir, aside);
  } catch (err) {
    throw ioError(`move the idle slot's rootfs ${dir} aside`, err);
  }
  return aside;
}

/** The retired trees beside these machine dirs: this run's and killed runs'. */
export const retiredBeside = (dirs: string[]): string[] => dirs.flatMap((dir) => runTreesBeside(dir, MARK));

/** Delete every retired tree of these machine dirs. */
export function sweepRetired(dirs: string[]): string[] {
  const found = retiredBeside(dirs);
  found.forEach(removeTree);
  return found;
}
