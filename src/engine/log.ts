// Logs: consola pretty on a TTY, JSON lines otherwise (one object per event), so an
// unattended cloud-init run leaves a log that can be grepped and parsed.
import type { ConsolaInstance } from "consola";
import { isTerminal, writeStdout } from "./stdio";
import { createTerminal, type Terminal } from "./terminal";

export type Level = "debug" | "info" | "warn" | "error";
export type LogFormat = "pretty" | "json";

export interface LogEvent {
  level: Level;
  msg: string;
  task?: string;
  /** milliseconds */
  duration?: number;
  fields?: Record<string, unknown>;
  /** the start or end of a serial/parallel group rather than of a task doing work itself */
  group?: boolean;
}

export interface Logger {
  event(e: LogEvent): void;
  readonly format: LogFormat;
  readonly verbose: boolean;
  /** a person's terminal, when there is one: the live progress line is drawn through it */
  readonly terminal?: Terminal;
}

export const pickFormat = (requested: LogFormat | undefined, isTTY = isTerminal(1)): LogFormat =>
  requested ?? (isTTY ? "pretty" : "json");

export function jsonLogger(write: (line: string) => void = writeStdout, verbose = false): Logger {
  return {
    format: "json",
    verbose,
    event(e) {
      if (e.level === "debug" && !verbose) return;
      const out: Record<string, unknown> = { time: new Date().toISOString(), level: e.level, msg: e.msg };
      if (e.task) out.task = e.task;
      if (e.duration !== undefined) out.duration = Math.round(e.duration * 10) / 10;
      if (e.fields && Object.keys(e.fields).length) out.fields = e.fields;
      write(JSON.stringify(out) + "\n");
    },
  };
}

/**
 * What a person reads on a terminal: what tasks did and how long it took. Task starts, skips
 * and groups are for logs (shown with --verbose); a failure is left to the final error report,
 * so it is read once.
 */
export function shownToPerson(e: LogEvent, verbose: boolean): boolean {
  if (e.msg === "failed") return false;
  if (verbose) return true;
  if (e.level === "debug" || e.msg === "started" || e.msg === "skipped") return false;
  return !e.group;
}

export function prettyLogger(consola: ConsolaInstance, verbose = false, terminal?: Terminal): Logger {
  return {
    format: "pretty",
    verbose,
    ...(terminal ? { terminal } : {}),
    event(e) {
      if (!shownToPerson(e, verbose)) return;
      const parts = [e.task ? `${e.task}: ${e.msg}` : e.msg];
      for (const [k, v] of Object.entries(e.fields ?? {})) parts.push(`${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
      if (e.duration !== undefined) parts.push(`(${formatDuration(e.duration)})`);
      const line = parts.join(" ");
      if (e.level === "error") consola.error(line);
      else if (e.level === "warn") consola.warn(line);
      else if (e.level === "debug") consola.debug(line);
      else if (e.msg === "completed") consola.success(line);
      else consola.info(line);
    },
  };
}

// consola costs ~25 ms of start-up: load it only for a person at a terminal, never for the
// JSON logs of an unattended run.
export async function createLogger(format: LogFormat, verbose: boolean): Promise<Logger> {
  if (format === "json") return jsonLogger(undefined, verbose);
  const { createConsola } = await import("consola");
  const terminal = isTerminal(1) ? createTerminal() : undefined;
  // consola writes through the terminal, so its lines never land on the live line.
  const stream = terminal && ({ write: (text: string) => terminal.log(text), get columns() { return terminal.columns(); } } as unknown as NodeJS.WriteStream);
  // No clock on each line: consola would put it in a [prefix] whenever a line is wider than the terminal.
  const consola = createConsola({ level: verbose ? 4 : 3, formatOptions: { date: false }, ...(stream ? { stdout: stream, stderr: stream } : {}) });
  return prettyLogger(consola, verbose, terminal);
}

/** A logger that keeps back the events `hold` picks until `release()`, or drops them for good. */
export function holding(logger: Logger, hold: (e: LogEvent) => boolean): { logger: Logger; held: LogEvent[]; release(): void } {
  const held: LogEvent[] = [];
  return {
    logger: { ...logger, event: (e) => (hold(e) ? held.push(e) : logger.event(e)) },
    held,
    release: () => held.splice(0).forEach((e) => logger.event(e)),
  };
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** A logger bound to one task name. */
export interface TaskLog {
  readonly task: string;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export function taskLog(logger: Logger, task: string): TaskLog {
  const at = (level: Level) => (msg: string, fields?: Record<string, unknown>) =>
    logger.event({ level, task, msg, ...(fields ? { fields } : {}) });
  return { task, info: at("info"), warn: at("warn"), debug: at("debug") };
}
