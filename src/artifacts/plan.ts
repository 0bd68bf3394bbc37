// Pure resolution of the goal state into what to fetch and install: URLs, versions, cache
// paths and pins. --dry-run prints this; the pipeline executes it.
import type { Resolved } from "../config/resolve";
import { RunError } from "../errors";
import { CATALOG, type CatalogEntry, type InstallGroup } from "./catalog";

export interface ArtifactPlan {
  entry: CatalogEntry;
  version: string;
  arch: string;
  /** Asset URL (http, https or file). */
  url: string;
  /** File name of the asset, as checksum files name it. */
  assetName: string;
  checksumURL: string;
  /** Pinned sha256 (downloads.<a>.sha256); beats the published checksum. */
  pinned?: string;
  /** Asset and checksum paths relative to the cache dir, in upstream layout. */
  cacheAsset: string;
  cacheChecksum: string;
}

const PLACEHOLDER = /\{(\w+)\}/g;

/** Fill `{name}` placeholders; an unknown placeholder is an error naming the template. */
export function fillTemplate(template: string, values: Record<string, string>, what: string): string {
  return template.replace(PLACEHOLDER, (whole, key: string) => {
    const v = values[key];
    if (v === undefined) throw new RunError(`${what}: unknown placeholder ${whole} in ${template} (known: ${Object.keys(values).map((k) => `{${k}}`).join(" ")})`);
    return v;
  });
}

const dirOf = (path: string) => path.slice(0, path.lastIndexOf("/"));

/** The checksum file's location for an asset at `asset` (URL or path). */
export const checksumFor = (entry: CatalogEntry, asset: string) =>
  entry.checksum.path.replace("{asset}", asset).replace("{dir}", dirOf(asset));

/** The version of an artifact the goal asks for: its own override, else the version it follows. */
export const artifactVersion = (goal: Resolved, entry: CatalogEntry): string => goal.downloads[entry.name].version ?? goal.versions[entry.version];

export function planArtifact(goal: Resolved, entry: CatalogEntry): ArtifactPlan {
  const dl = goal.downloads[entry.name];
  const version = artifactVersion(goal, entry);
  const values = { version, arch: goal.arch, os: "linux", binary: entry.binary };
  const what = `downloads.${entry.name}.url`;
  const asset = fillTemplate(entry.asset, values, what);
  const base = (dl.baseURL ?? (goal.mirror ? `${goal.mirror.replace(/\/+$/, "")}/${entry.dir}` : entry.upstream)).replace(/\/+$/, "");
  const url = dl.url ? fillTemplate(dl.url, values, what) : `${base}/${asset}`;
  const cacheAsset = `${entry.dir}/${asset}`;
  return {
    entry,
    version,
    arch: goal.arch,
    url,
    assetName: url.slice(url.lastIndexOf("/") + 1),
    checksumURL: checksumFor(entry, url),
    ...(dl.sha256 ? { pinned: dl.sha256 } : {}),
    cacheAsset,
    cacheChecksum: checksumFor(entry, cacheAsset),
  };
}

export const planGroup = (goal: Resolved, group: InstallGroup) =>
  Object.values(CATALOG)
    .filter((e) => e.group === group)
    .map((e) => planArtifact(goal, e));

export const planAll = (goal: Resolved) => Object.values(CATALOG).map((e) => planArtifact(goal, e));
