// Every file and symlink provision writes from a template, for a resolved goal, by absolute path
// on the host (the host's sysctl file under host.root), in the order provision writes them: what
// render prints and verify compares. The tasks write the same lists, so the three cannot
// disagree. Installed binaries, image archives and the records provision keeps (goal.json,
// images.json, the install manifest, the host manifest) are not templates and are not listed.
import { join } from "node:path";
import type { Resolved } from "./config/resolve";
import { resolveInside } from "./fs/inside";
import type { FileSpec, LinkSpec } from "./fs/spec";
import { SYSCTL_FILE } from "./hostprep/settings";
import { HOST_TASK, hostSettingStates, hostSysctlFile } from "./hostprep/task";
import { provisionPlan } from "./provision";
import { CONFIGURE_OS, osFiles } from "./rootfs/os";
import { DISABLE_RESOLVED, RESOLVED_MASK, resolvConfFile } from "./rootfs/resolved";
import { ENSURE_WORKSPACE, nspawnFiles } from "./rootfs/workspace";
import { runtimeFiles, runtimeLinks } from "./runtime/files";
import { IMAGES_LINK, IMAGES_TASK, IMAGES_UNIT_FILE, imagesUnitFile, readImagesRecord } from "./runtime/images";
import { RUNTIME_TASK } from "./runtime/task";
import { preloadImages } from "./images/preload";

export type RenderedFile = FileSpec & { kind: "file" };
export type RenderedLink = LinkSpec & { kind: "link" };
/** A file whose content is known only once provision has run (why says what it waits for). */
export interface PendingFile {
  kind: "pending";
  name: string;
  path: string;
  why: string;
}
export type Rendered = RenderedFile | RenderedLink | PendingFile;

/**
 * The images' import unit names each archive by its image's digest, known once provision has
 * pulled it: rendered from the machine's record when that holds exactly the goal's images (and
 * pinned digests), else pending.
 */
function imagesUnit(goal: Resolved, path: string): RenderedFile | PendingFile {
  const wanted = preloadImages(goal);
  const recorded = readImagesRecord(goal.machineDir) ?? [];
  const current = recorded.length === wanted.length && wanted.every((image) => recorded.some((e) => e.image === image && (goal.imagePins?.[image] ?? e.digest) === e.digest));
  if (current) return { kind: "file", ...imagesUnitFile(recorded.map((e) => e.archive)), path };
  return { kind: "pending", name: "images-unit", path, why: `its lines name each image's archive by digest, known once provision has pulled ${wanted.join(", ")}` };
}

/** Per task: its files and links, paths absolute on the host. */
function taskWrites(goal: Resolved): Record<string, () => Rendered[]> {
  const inRoot = (rel: string) => resolveInside(goal.machineDir, rel);
  const files = (list: FileSpec[]) => list.map((f): Rendered => ({ kind: "file", ...f, path: inRoot(f.path) }));
  const links = (list: LinkSpec[]) => list.map((l): Rendered => ({ kind: "link", ...l, path: inRoot(l.path) }));
  return {
    // The host's own file, under host.root (its running kernel's values decide at-least targets).
    [HOST_TASK]: () => (goal.host.sysctls ? [{ kind: "file", ...hostSysctlFile(hostSettingStates(goal)), path: join(goal.host.root, SYSCTL_FILE) }] : []),
    [ENSURE_WORKSPACE]: () => nspawnFiles(goal).map((f) => ({ kind: "file", ...f })),
    [CONFIGURE_OS]: () => files(osFiles(goal)),
    [DISABLE_RESOLVED]: () => [...links([RESOLVED_MASK]), ...files([resolvConfFile(goal)])],
    [RUNTIME_TASK]: () => [...files(runtimeFiles(goal)), ...links(runtimeLinks(goal))],
    [IMAGES_TASK]: () => [imagesUnit(goal, inRoot(IMAGES_UNIT_FILE)), ...links([IMAGES_LINK])],
  };
}

/**
 * What provision writes from templates for this goal (the tasks --skip-phases leaves). `host: false`
 * leaves out the host's own files: verify checks those against the host manifest instead.
 */
export function renderedFiles(goal: Resolved, opts: { host?: boolean } = {}): Rendered[] {
  const writes = taskWrites(goal);
  return provisionPlan(goal)
    .phases.flatMap((p) => p.tasks)
    .filter((t) => opts.host !== false || t.name !== HOST_TASK)
    .flatMap((t) => writes[t.name]?.() ?? []);
}
