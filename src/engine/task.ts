// The task model: a task is a name and run(ctx). serial() stops at the first error;
// parallel() starts all, aborts the rest on the first error, and reports every failure.
import { errorMessage } from "../errors";
import { taskLog, type Logger, type TaskLog } from "./log";
import { mark } from "./timings";

export interface TaskContext {
  signal: AbortSignal;
  log: TaskLog;
  logger: Logger;
  dryRun: boolean;
}

/** What a task did: "skipped" when everything was already in place. */
export type Outcome = "completed" | "skipped";

export interface Task {
  name: string;
  run(ctx: TaskContext): Promise<Outcome | void>;
  /** the tasks a serial or parallel group runs */
  children?: Task[];
}

/** The tasks that do work themselves, in order, below any groups. */
export const leafTasks = (task: Task): Task[] => (task.children ? task.children.flatMap(leafTasks) : [task]);

export interface Failure {
  task: string;
  error: unknown;
}

/** One or more tasks failed; `failures` has each, in the order they happened. */
export class TaskFailures extends Error {
  override name = "TaskFailures";
  constructor(readonly failures: Failure[]) {
    super(failures.map((f) => `${f.task}: ${errorMessage(f.error)}`).join("; "));
  }
}

const isAbort = (err: unknown) => err instanceof Error && err.name === "AbortError";

export const abortError = (reason = "cancelled") => new DOMException(reason, "AbortError");

/** Wait `ms`, or reject with an AbortError as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), reject(abortError())), { once: true });
  });
}

/** Run one task with its started/completed/skipped/failed lines and duration. */
export async function runTask(task: Task, parent: Omit<TaskContext, "log">): Promise<Outcome> {
  const { logger } = parent;
  const started = performance.now();
  if (parent.signal.aborted) throw abortError();
  const group = task.children ? { group: true } : {};
  logger.event({ level: "info", task: task.name, msg: "started", ...group });
  try {
    const outcome = (await task.run({ ...parent, log: taskLog(logger, task.name) })) ?? "completed";
    logger.event({ level: "info", task: task.name, msg: outcome, duration: performance.now() - started, ...group });
    // A group is a phase or a whole sequence: where a run's time goes (KUBE_ROOTFS_TIMINGS).
    if (task.children) mark(task.name);
    return outcome;
  } catch (err) {
    const duration = performance.now() - started;
    if (isAbort(err) || parent.signal.aborted) {
      logger.event({ level: "warn", task: task.name, msg: "cancelled", duration, ...group });
    } else if (!(err instanceof TaskFailures)) {
      logger.event({ level: "error", task: task.name, msg: "failed", duration, fields: { error: errorMessage(err) } });
    }
    throw err;
  }
}

const wrapFailure = (task: string, err: unknown): Failure[] => (err instanceof TaskFailures ? err.failures : [{ task, error: err }]);

export function serial(name: string, tasks: Task[]): Task {
  return {
    name,
    children: tasks,
    async run(ctx) {
      let ran = false;
      for (const t of tasks) {
        try {
          if ((await runTask(t, ctx)) === "completed") ran = true;
        } catch (err) {
          if (isAbort(err)) throw err;
          throw new TaskFailures(wrapFailure(t.name, err));
        }
      }
      return ran ? "completed" : "skipped";
    },
  };
}

export function parallel(name: string, tasks: Task[]): Task {
  return {
    name,
    children: tasks,
    async run(ctx) {
      const controller = new AbortController();
      const onAbort = () => controller.abort(ctx.signal.reason);
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      const failures: Failure[] = [];
      try {
        const results = await Promise.all(
          tasks.map((t) =>
            runTask(t, { ...ctx, signal: controller.signal }).catch((err) => {
              // Aborts caused by a sibling's failure are consequences, not failures of their own.
              if (!(isAbort(err) && controller.signal.aborted)) {
                failures.push(...wrapFailure(t.name, err));
                controller.abort(abortError(`${t.name} failed`));
              }
              return "failed" as const;
            }),
          ),
        );
        if (failures.length) throw new TaskFailures(failures);
        if (ctx.signal.aborted) throw abortError();
        return results.includes("completed") ? "completed" : "skipped";
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

