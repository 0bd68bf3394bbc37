// Where a run's time goes, for the bench and for anyone who asks: with KUBE_ROOTFS_TIMINGS=1 in
// the environment, the run records stage marks and, as it ends, writes them as one JSON line on
// stderr: {"timings":{"start":14.9,"loaded":16.2,"command":16.5,"goal":21.4,…,"exit":27.5}}.
// Each mark is milliseconds since the process started (performance.now()) at the END of that
// stage: start (the runtime up and the executable's code loaded), loaded (the CLI's own modules),
// command (the command's definition), modules (what its run loads on demand), goal (file, env,
// flags and host facts resolved), then each phase of the work as it completes, and exit. Unset, mark() is one comparison.
// main.ts imports this module first, so `start` is taken before any other module of ours runs.

/** Not a goal-state setting: it changes what a run reports, never what it does. */
export const TIMINGS_ENV = "KUBE_ROOTFS_TIMINGS";

const enabled = /^(1|true|yes)$/i.test(process.env[TIMINGS_ENV] ?? "");
const marks: Record<string, number> = {};

/** The end of a stage; the first mark of a name wins (a phase that runs twice keeps its first end). */
export function mark(stage: string): void {
  if (enabled) marks[stage] ??= Math.round(performance.now() * 10) / 10;
}

mark("start");

/** The marks as one line on stderr, when asked for. */
export function reportTimings(): void {
  if (!enabled) return;
  mark("exit");
  // console.error writes at once, on this thread: process.stderr would cost the run more than it
  // reports, node:fs (engine/stdio.ts) a few ms that `version` never pays otherwise, and
  // Bun.write to Bun.stderr starts a thread pool as the run ends.
  console.error(JSON.stringify({ timings: marks }));
}
