// The artifact pipeline: resolve → cache hit? → download (one streaming pass: cache file,
// sha256 and unpacking together) → verify → atomic install → manifest. The kube, cri and
// cni tasks each hand it their catalog entries.
import { closeSync, openSync, statSync } from "node:fs";
import { downloadOptions } from "../config/client-options";
import type { Resolved } from "../config/resolve";
import type { Outcome, TaskContext } from "../engine/task";
import { RunError, withContext } from "../errors";
import { ioError, removeQuietly } from "../fs/atomic";
import { sha256Mismatch } from "../fs/hash";
import { downloadText } from "../http/download";
import { Limit } from "../http/limit";
import { AssetSink } from "./asset-sink";
import { Cache } from "./cache";
import { parseChecksum } from "./checksum";
import { installStaged } from "./install";
import { installDrift, readManifest, updateManifest, type InstalledArtifact } from "./manifest";
import type { ArtifactPlan } from "./plan";
import { createProgress, type Progress } from "./progress";
import { BadContent, stageCopy, type StagedFile } from "./unpack";

/**
 * Run `fn` for every plan and wait for all to settle, so a failure never leaves a sibling
 * writing on; then fail with every artifact's error (an interruption wins).
 */
export async function settleAll<T>(plans: ArtifactPlan[], fn: (p: ArtifactPlan) => Promise<T>): Promise<T[]> {
  const results = await Promise.allSettled(plans.map(fn));
  const failed = results.flatMap((r, i) => (r.status === "rejected" ? [withContext(plans[i]!.entry.name, r.reason)] : []));
  const aborted = failed.find((e) => e.name === "AbortError");
  if (aborted) throw aborted;
  if (failed.length === 1) throw failed[0];
  if (failed.length) throw new RunError(failed.map((e) => e.message).join("; "));
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Where verified bytes go: unpacked into the machine's rootfs, or only kept in the cache (a bundle). */
type Destination = { kind: "rootfs" } | { kind: "cache" };
const ROOTFS: Destination = { kind: "rootfs" };
const CACHE: Destination = { kind: "cache" };

export class ArtifactPipeline {
  private readonly cache: Cache;
  private readonly limit: Limit;
  private progress?: Progress;

  constructor(private readonly goal: Resolved) {
    this.cache = new Cache(goal.cacheDir);
    this.limit = new Limit(goal.concurrency);
  }

  /** Ensure every planned artifact is installed; "skipped" when all already were. */
  async ensure(plans: ArtifactPlan[], ctx: TaskContext): Promise<Outcome> {
    this.progress ??= createProgress(ctx.logger);
    const manifest = readManifest(this.goal.machineDir);
    const outcomes = await settleAll(plans, (p) => this.ensureOne(p, manifest[p.entry.name], ctx));
    return outcomes.includes("completed") ? "completed" : "skipped";
  }

  private async ensureOne(plan: ArtifactPlan, have: InstalledArtifact | undefined, ctx: TaskContext): Promise<Outcome> {
    const { name } = plan.entry;
    const fields = { artifact: name, version: plan.version, arch: plan.arch, url: plan.url };
    const drifts = await installDrift(this.goal.machineDir, plan, have, "stat");
    if (!drifts.length) {
      ctx.log.debug("up to date", fields);
      return "skipped";
    }
    if (have) ctx.log.debug("not as installed", { ...fields, ...drifts[0] });
    if (ctx.dryRun) {
      ctx.log.info("would install", { ...fields, into: plan.entry.installDir, cache: this.cache.path(plan.cacheAsset) });
      return "completed";
    }
    const { sha256, staged } = await this.fetchVerified(plan, ctx, ROOTFS);
    const root = this.goal.machineDir;
    await updateManifest(root, async (m) => {
      const files = await installStaged(root, staged, m[name]?.files);
      const record: InstalledArtifact = { version: plan.version, arch: plan.arch, source: plan.url, sha256, files };
      m[name] = record;
    });
    ctx.log.info("installed", { ...fields, files: staged.map((f) => f.rel) });
    return "completed";
  }

  /**
   * Fetch into the cache only (a bundle), verified, with its checksum file beside it so the
   * cache stays a complete mirror. Returns the asset's sha256 and size.
   */
  async ensureCached(plan: ArtifactPlan, ctx: TaskContext): Promise<{ sha256: string; size: number }> {
    this.progress ??= createProgress(ctx.logger);
    const { sha256 } = await this.fetchVerified(plan, ctx, CACHE);
    if (!this.cache.has(plan.cacheChecksum) && !this.goal.offline) {
      const published = await this.publishedChecksum(plan, ctx);
      if (published.hex !== sha256) throw new BadContent(`checksum file ${plan.checksumURL} says ${published.hex}; the pinned sha256 is ${sha256}`);
      await this.cache.writeText(plan.cacheChecksum, published.text);
    }
    return { sha256, size: statSync(this.cache.path(plan.cacheAsset)).size };
  }

  private target(plan: ArtifactPlan, source: string) {
    return { root: this.goal.machineDir, dir: plan.entry.installDir, source, maxBytes: this.goal.maxDownloadBytes };
  }

  /**
   * Into the rootfs, an archive is unpacked as the bytes come; otherwise they are only hashed (and
   * cached). With a part file the bytes come from the network, else from the cache file.
   */
  private newSink(plan: ArtifactPlan, source: string, into: Destination, part?: { fd: number; path: string }): AssetSink {
    const unpacks = into.kind === "rootfs" && plan.entry.payload.kind === "archive";
    const expected = part ? plan.entry.typicalMiB << 20 : Bun.file(source).size;
    return new AssetSink(part, unpacks ? { artifact: plan.entry.name, target: this.target(plan, source) } : undefined, expected);
  }

  /** A single binary is staged by copying its verified file; an archive's entries already are. */
  private async staged(plan: ArtifactPlan, verified: string, result: { sha256: string; staged: StagedFile[] }, into: Destination) {
    const { payload } = plan.entry;
    if (into.kind === "cache" || payload.kind === "archive") return result;
    return { ...result, staged: [await stageCopy(verified, payload.installAs, this.target(plan, verified), result.sha256)] };
  }

  private async publishedChecksum(plan: ArtifactPlan, ctx: TaskContext): Promise<{ hex: string; text: string }> {
    const text = await downloadText(plan.checksumURL, downloadOptions(this.goal, ctx.signal, this.limit));
    return { hex: parseChecksum(text, plan.entry, plan.assetName, plan.checksumURL), text };
  }

  private async fetchVerified(plan: ArtifactPlan, ctx: TaskContext, into: Destination): Promise<{ sha256: string; staged: StagedFile[] }> {
    const assetPath = this.cache.path(plan.cacheAsset);
    const cached = plan.pinned ?? this.cache.checksum(plan);
    if (cached && this.cache.has(plan.cacheAsset)) {
      const found = await this.fromCache(plan, cached, into);
      if ("hit" in found) return found.hit;
      // The cached copy is left as it is: a newer download replaces it atomically, and when the
      // pin is what is wrong (a bad lock), a bundle must not lose a good file.
      if (this.goal.offline) throw new BadContent(sha256Mismatch(assetPath, cached, found.actual));
      ctx.log.warn("cached copy does not match its checksum; fetching again", { path: assetPath, expected: cached, found: found.actual });
    }
    if (this.goal.offline) throw new RunError(`offline and the cache has no ${cached ? "" : "checksum for "}${assetPath}`);
    const published = plan.pinned ? { hex: plan.pinned, text: undefined } : await this.publishedChecksum(plan, ctx);
    const result = await this.fromNetwork(plan, published.hex, ctx, into);
    // The checksum file joins the cache only beside the asset it verified, so a bad mirror's
    // checksum never lingers to condemn a good copy later.
    if (published.text !== undefined) await this.cache.writeText(plan.cacheChecksum, published.text);
    return result;
  }

  /** A verified cache hit needs no network at all; otherwise say what the copy's hash was. */
  private async fromCache(plan: ArtifactPlan, expected: string, into: Destination): Promise<{ hit: { sha256: string; staged: StagedFile[] } } | { actual: string }> {
    const path = this.cache.path(plan.cacheAsset);
    const sink = this.newSink(plan, path, into);
    let result;
    try {
      for await (const chunk of Bun.file(path).stream()) await sink.replay(chunk);
      result = await sink.finish();
    } catch (err) {
      await sink.discard();
      return { actual: `an unusable file (${(err as Error).message})` };
    }
    if (result.sha256 === expected) return { hit: await this.staged(plan, path, result, into) };
    for (const f of result.staged) removeQuietly(f.temp);
    return { actual: result.sha256 };
  }

  private async fromNetwork(plan: ArtifactPlan, expected: string, ctx: TaskContext, into: Destination) {
    const part = this.cache.part(plan.cacheAsset);
    let fd: number;
    try {
      fd = openSync(part.path, "a+", 0o644);
    } catch (err) {
      throw ioError(`write ${part.path}`, err);
    }
    // Closed exactly once: a second close could hit a descriptor another download reopened.
    let partOpen = true;
    const closePart = () => partOpen && ((partOpen = false), closeSync(fd));
    const tracker = this.progress!.track(ctx.log.task, plan.entry.name);
    let sink: AssetSink | undefined;
    try {
      sink = this.newSink(plan, plan.url, into, { fd, path: part.path });
      if (part.size > 0) ctx.log.info("resuming", { artifact: plan.entry.name, from: part.size, path: part.path });
      const result = await sink.download(plan.url, part.size, {
        ...downloadOptions(this.goal, ctx.signal, this.limit),
        onResponse: (total, offset) => tracker.total(total, offset),
        onBytes: (n) => tracker.bytes(n),
      });
      if (result.sha256 !== expected) {
        for (const f of result.staged) removeQuietly(f.temp);
        throw new BadContent(sha256Mismatch(plan.url, expected, result.sha256));
      }
      tracker.done();
      closePart();
      this.cache.commit(part.path, plan.cacheAsset);
      return await this.staged(plan, this.cache.path(plan.cacheAsset), result, into);
    } catch (err) {
      await sink?.discard();
      // Nothing half-written stays behind a failed or interrupted run. (Within a run, retries
      // resume with Range; only a crash leaves a part, which the next run adopts.)
      removeQuietly(part.path);
      throw err;
    } finally {
      closePart();
      tracker.stop();
    }
  }
}
