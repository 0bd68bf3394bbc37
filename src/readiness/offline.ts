// What an --offline run would miss in its cache: artifacts (and their checksum files unless
// pinned), the images it pre-loads, and the rootfs when the workspace decision needs one.
import { existsSync } from "node:fs";
import { Cache } from "../artifacts/cache";
import type { ArtifactPlan } from "../artifacts/plan";
import type { Resolved } from "../config/resolve";
import { holdsPreload, imagesLayout } from "../images/preload";
import { offlineImageMissing } from "../rootfs/bootstrap/image";
import { localTarball } from "../rootfs/bootstrap/tarball";
import type { WorkspaceDecision } from "../rootfs/decision";

export function offlineMissing(goal: Resolved, artifacts: ArtifactPlan[], images: string[], workspace: WorkspaceDecision | undefined): string[] {
  const missing: string[] = [];
  const cache = new Cache(goal.cacheDir);
  for (const plan of artifacts) {
    const what = `${plan.entry.name} ${plan.version} ${plan.arch}`;
    if (!cache.has(plan.cacheAsset)) missing.push(`${what} (${plan.cacheAsset})`);
    else if (!plan.pinned && !cache.checksum(plan)) missing.push(`${what} checksum (${plan.cacheChecksum})`);
  }
  const layout = imagesLayout(goal.cacheDir);
  for (const image of images) if (!holdsPreload(goal, layout, image)) missing.push(`image ${image} (${layout.dir})`);
  if (workspace?.kind === "bootstrap") missing.push(`rootfs snapshot for ${goal.bootstrap.suite}/${goal.arch} (kube-rootfs fetch --with-rootfs)`);
  if (workspace?.kind === "image") {
    const problem = offlineImageMissing(workspace.image, goal.cacheDir);
    if (problem) missing.push(problem);
  }
  if (workspace?.kind === "tarball") {
    const { tarball } = workspace.tarball;
    const file = localTarball(tarball);
    if (file === undefined) missing.push(`bootstrap.tarball ${tarball} is a URL (offline needs a path)`);
    else if (!existsSync(file)) missing.push(`bootstrap.tarball ${tarball}`);
  }
  return missing;
}
