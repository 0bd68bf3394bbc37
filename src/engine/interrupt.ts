// SIGINT, SIGTERM and SIGHUP abort the run through its AbortSignal, so every task stops its
// children and removes its temp files; the CLI then exits 128+signo with one line naming what
// was interrupted. A second signal exits at once.
import type { Logger, LogEvent } from "./log";

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
export type SignalName = keyof typeof SIGNALS;

export interface Interruptible {
  signal: AbortSignal;
  /** the run's logger, watched to know which tasks are running */
  logger: Logger;
  /** set once a signal arrived */
  interrupted(): { name: SignalName; code: number; running: string[] } | undefined;
  dispose(): void;
}

export function interruptible(logger: Logger, exit: (code: number) => void = (c) => process.exit(c)): Interruptible {
  const controller = new AbortController();
  const running = new Set<string>();
  let got: SignalName | undefined;
  // What ran when the signal came: by the time the run unwinds, every task has ended.
  let runningAtSignal: string[] = [];
  const handlers = Object.keys(SIGNALS).map((name) => {
    const handler = () => {
      if (got) exit(128 + SIGNALS[got]);
      got = name as SignalName;
      runningAtSignal = [...running];
      controller.abort(new DOMException(`interrupted by ${name}`, "AbortError"));
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  const watching: Logger = {
    format: logger.format,
    verbose: logger.verbose,
    ...(logger.terminal ? { terminal: logger.terminal } : {}),
    event(e: LogEvent) {
      // Tasks doing work, not the groups around them: those are what a signal stopped.
      if (e.task && !e.group && e.msg === "started") running.add(e.task);
      else if (e.task && e.duration !== undefined) running.delete(e.task);
      logger.event(e);
    },
  };
  return {
    signal: controller.signal,
    logger: watching,
    interrupted: () => (got ? { name: got, code: 128 + SIGNALS[got], running: runningAtSignal } : undefined),
    dispose: () => handlers.forEach(([name, h]) => process.off(name, h)),
  };
}
