// images: every image to pre-load copied into the machine as an OCI archive, the unit that
// imports them on first boot enabled, and a record (written last) of what each archive holds,
// which verify re-hashes. Archives and stamps of images dropped from the goal are removed.
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { Resolved } from "../config/resolve";
import type { Task } from "../engine/task";
import { sha256File } from "../fs/hash";
import { FILE_MODE } from "../fs/atomic";
import type { FileSpec, LinkSpec } from "../fs/spec";
import { hostRel, Target } from "../fs/target";
import { archiveSize, writeImageArchive } from "../oci/archive";
import { ensureImage, holdsPreload, imagesLayout, preloadImages, type PreloadImage } from "../images/preload";
import { IMAGES_MACHINE_DIR, IMAGES_UNIT, importStamp, renderImagesUnit } from "./templates/images";

export const IMAGES_TASK = "images";
export const IMAGES_RECORD = "var/lib/kube-rootfs/images.json";
export const IMAGES_UNIT_FILE = `etc/systemd/system/${IMAGES_UNIT}`;
export const IMAGES_LINK: LinkSpec = { name: "images-enabled", path: `etc/systemd/system/multi-user.target.wants/${IMAGES_UNIT}`, target: `/${IMAGES_UNIT_FILE}` };

export interface ImageEntry {
  image: string;
  /** containerd's name for it */
  name: string;
  /** the platform manifest's digest */
  digest: string;
  /** file name under IMAGES_MACHINE_DIR */
  archive: string;
  size: number;
  sha256: string;
}

const dirRel = hostRel(IMAGES_MACHINE_DIR);

/** The import unit for these archives (file names under IMAGES_MACHINE_DIR). */
export const imagesUnitFile = (archives: string[]): FileSpec => ({ name: "images-unit", path: IMAGES_UNIT_FILE, content: renderImagesUnit(archives), mode: FILE_MODE });

/** An archive's path in the machine dir. */
export const archiveRel = (archive: string) => `${dirRel}/${archive}`;

/** `registry:5000/pause:3.10` at sha256:abc… → `registry_5000_pause_3.10-abc…(12).tar` */
export const archiveName = (img: Pick<PreloadImage, "name" | "desc">) =>
  `${img.name.replace(/[^A-Za-z0-9._-]/g, "_")}-${img.desc.digest.slice("sha256:".length, "sha256:".length + 12)}.tar`;

export function readImagesRecord(machineDir: string): ImageEntry[] | undefined {
  try {
    return (JSON.parse(readFileSync(`${machineDir}/${IMAGES_RECORD}`, "utf8")) as { images: ImageEntry[] }).images;
  } catch {
    return undefined;
  }
}

/** Files in the machine's image dir that `entries` no longer name: old archives and stamps. */
export function staleImageFiles(machineDir: string, entries: ImageEntry[]): string[] {
  const keep = new Set([...entries.map((e) => e.archive), importStamp(entries.map((e) => e.archive)).slice(IMAGES_MACHINE_DIR.length + 1)]);
  let names: string[];
  try {
    names = readdirSync(`${machineDir}/${dirRel}`);
  } catch {
    return [];
  }
  return names.filter((n) => (n.endsWith(".tar") || n.startsWith("imported-")) && !keep.has(n)).map(archiveRel);
}

export function imagesTask(goal: Resolved): Task {
  return {
    name: IMAGES_TASK,
    async run(ctx) {
      const root = new Target(goal.machineDir, ctx);
      const layout = imagesLayout(goal.cacheDir);
      const before = readImagesRecord(goal.machineDir) ?? [];
      const entries: ImageEntry[] = [];
      let changed = false;
      for (const image of preloadImages(goal)) {
        if (ctx.dryRun && !holdsPreload(goal, layout, image)) {
          ctx.log.info("would pull image", { image, layout: layout.dir });
          changed = true;
          continue;
        }
        const img = await ensureImage(goal, image, ctx.signal);
        const archive = archiveName(img);
        const rel = archiveRel(archive);
        const size = archiveSize(layout, img.name, img.desc, img.manifest);
        const present = statSync(root.path(rel), { throwIfNoEntry: false })?.size === size;
        let sha256 = present ? (before.find((e) => e.archive === archive)?.sha256 ?? (await sha256File(root.path(rel)))) : "";
        if (!present) {
          changed = true;
          if (ctx.dryRun) ctx.log.info("would write", { path: root.path(rel), image });
          else {
            sha256 = writeImageArchive(root.path(rel), layout, img.name, img.desc, img.manifest);
            ctx.log.info("wrote", { path: root.path(rel), image, digest: img.desc.digest });
          }
        }
        entries.push({ image, name: img.name, digest: img.desc.digest, archive, size, sha256 });
      }
      const unit = imagesUnitFile(entries.map((e) => e.archive));
      const results = await Promise.all([
        root.writeFile(unit.path, unit.content, unit.mode),
        root.symlink(IMAGES_LINK.path, IMAGES_LINK.target),
        ...staleImageFiles(goal.machineDir, entries).map((rel) => root.remove(rel)),
      ]);
      // Last: the record says the archives are complete.
      const record = await root.writeFile(IMAGES_RECORD, JSON.stringify({ images: entries }, null, 2) + "\n");
      return changed || results.includes("written") || record === "written" ? "completed" : "skipped";
    },
  };
}
