// The readiness phase: every precondition of what the run will do, checked before anything is
// touched. A real run stops on the blockers, listing all of them; a dry run lists them after
// its plan. Warnings are shown and never block.
import type { ArtifactPlan } from "../artifacts/plan";
import type { Resolved } from "../config/resolve";
import { runTask, type Outcome, type Task, type TaskContext } from "../engine/task";
import { mark } from "../engine/timings";
import { NotReady } from "../errors";
import { rootfsSource, snapshotScratchGoal } from "../rootfs/bootstrap";
import { hostTools } from "../rootfs/bootstrap/host-tools";
import type { WorkspaceDecision } from "../rootfs/decision";
import { bad, describeReport, runChecks, type Check, type Report } from "./check";
import { binfmtCheck, cacheSpaceCheck, cgroupCheck, keyringCheck, machineSpaceCheck, offlineCacheCheck, rootCheck, toolsCheck } from "./checks";
import { gpuCheck, gpuNeeded } from "./gpu";
import { swapCheck, sysctlChecks } from "./host";
import { neighbourChecks } from "./neighbours";
import { offlineMissing } from "./offline";
import { realHost, type HostProbe } from "../host/probe";

export const READINESS = "readiness";

/** What the run will do, as far as its preconditions go. */
export interface Needs {
  /** it writes to the host's /etc, /var/lib/machines or /run */
  root: boolean;
  /** ensure-workspace runs, carrying out this decision (taken when the checks are) */
  workspace?: () => WorkspaceDecision;
  /** artifacts it installs or fetches */
  artifacts: ArtifactPlan[];
  /** container images it pre-loads or fetches */
  images: string[];
  /** the machine will boot on this host (its cgroups matter) */
  boots: boolean;
  /** the host task runs (it writes the kernel settings the node needs, and turns swap off when asked) */
  host?: boolean;
}

function workspaceChecks(goal: Resolved, w: WorkspaceDecision): Check[] {
  switch (w.kind) {
    case "unreadable":
      return [{ name: "workspace", run: () => bad("fail", w.problem, "run as root, or choose another --machine-dir") }];
    case "present":
    case "create":
      return [];
  }
  // one per arch: a bootstrap of another arch runs more than the host's own
  const tools = toolsCheck((host) => hostTools(w, host), `tools-${goal.arch}`);
  if (w.kind !== "bootstrap") return [tools, machineSpaceCheck(goal)];
  return [
    tools,
    keyringCheck(w.plan.suite, goal.bootstrap.keyring),
    binfmtCheck(goal.arch),
    machineSpaceCheck(goal),
    // its .debs and the snapshot kept afterwards; artifacts alone are too small to gauge
    cacheSpaceCheck(goal),
  ];
}

/** The checks for these needs, in the order they are shown. */
export function readinessChecks(goal: Resolved, needs: Needs): Check[] {
  const workspace = needs.workspace?.();
  return [
    ...(needs.root ? [rootCheck] : []),
    ...(workspace ? workspaceChecks(goal, workspace) : []),
    ...(goal.offline ? [offlineCacheCheck(goal.cacheDir, () => offlineMissing(goal, needs.artifacts, needs.images, workspace))] : []),
    ...(needs.boots ? [cgroupCheck, ...sysctlChecks(goal, Boolean(needs.host)), swapCheck(goal, Boolean(needs.host)), ...neighbourChecks(goal)] : []),
    ...(needs.boots && gpuNeeded(goal) ? [gpuCheck(goal)] : []),
  ];
}

/**
 * The checks of goals (one per arch) whose rootfs is bootstrapped in the cache's scratch dir
 * only to keep its snapshot (fetch --with-rootfs, image push): the host's own checks once,
 * each arch's own (tools, binfmt) for each.
 */
export function scratchChecks(goals: Resolved[], needsOf: (goal: Resolved, i: number) => Needs): Check[] {
  const all = goals.flatMap((g, i) => readinessChecks(snapshotScratchGoal(g), needsOf(g, i)));
  const key = (c: Check) => c.key ?? c.name;
  return all.filter((c, i) => all.findIndex((d) => key(d) === key(c)) === i);
}

/** What image push needs: each arch's snapshot, bootstrapped when the cache has none. */
export const imagePushChecks = (goals: Resolved[]) =>
  scratchChecks(goals, (g) => ({ root: true, workspace: () => rootfsSource(g), artifacts: [], images: [], boots: false }));

/** Runs the checks (taken when it runs): ok and warn lines are logged, the blockers thrown together. */
export function readinessTask(checks: () => Check[], host: HostProbe = realHost): Task {
  return {
    name: READINESS,
    async run(ctx) {
      const reports: Report[] = await runChecks(checks(), host);
      for (const r of reports) {
        if (r.status === "warn") ctx.log.warn(`${r.name}: ${r.message}`, { fix: r.fix });
        else if (r.status === "ok") (ctx.dryRun ? ctx.log.info : ctx.log.debug)(`${r.name}: ${r.message}`);
      }
      const blockers = reports.filter((r) => r.status === "fail").map(describeReport);
      if (blockers.length) throw new NotReady(blockers);
      return "skipped";
    },
  };
}

/**
 * A real run checks first and stops on any blocker before `beforeChanges` (the machine lock)
 * and the work; a dry run shows the whole plan first, then every blocker.
 */
export async function runWhenReady(readiness: Task, work: Task, ctx: Omit<TaskContext, "log">, beforeChanges: () => void = () => {}): Promise<Outcome> {
  if (!ctx.dryRun) {
    await runTask(readiness, ctx);
    mark(READINESS);
    beforeChanges();
    return runTask(work, ctx);
  }
  const planned = await runTask(work, ctx).then(
    (outcome) => ({ outcome }),
    (error: unknown) => ({ error }),
  );
  await runTask(readiness, ctx);
  if ("error" in planned) throw planned.error;
  return planned.outcome;
}
