// Download progress: a live line on a terminal for all downloads together; in JSON logs a
// bounded number of events per artifact (each quarter) and one completion event with the rate.
import type { Logger } from "../engine/log";

export interface Tracker {
  total(bytes: number | undefined): void;
  bytes(received: number): void;
  /** Downloaded: logs bytes, seconds and rate. */
  done(): void;
  /** Leave the live display, whatever happened (idempotent). */
  stop(): void;
}

export interface Progress {
  track(task: string, artifact: string): Tracker;
}

const MB = 1024 * 1024;
const mb = (n: number) => Math.round((n / MB) * 10) / 10;

interface Live {
  artifact: string;
  received: number;
  total?: number;
  started: number;
}

export function createProgress(
  logger: Logger,
  tty = Boolean(process.stderr.isTTY) && logger.format === "pretty",
  writeLine: (text: string) => void = (t) => void process.stderr.write(t),
): Progress {
  const live = new Set<Live>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const draw = () => {
    const parts = [...live].map((d) => {
      const secs = (performance.now() - d.started) / 1000;
      const rate = d.received / MB / Math.max(secs, 0.001);
      const eta = d.total && rate > 0 ? ` ETA ${Math.ceil((d.total - d.received) / MB / rate)}s` : "";
      const of = d.total ? `/${mb(d.total)}` : "";
      return `${d.artifact} ${mb(d.received)}${of} MB ${rate.toFixed(0)} MB/s${eta}`;
    });
    writeLine(`\r\x1b[K${parts.join(" | ")}`);
  };
  return {
    track(task, artifact) {
      const d: Live = { artifact, received: 0, started: performance.now() };
      let quarter = 0;
      if (tty) {
        live.add(d);
        // unref: a display must never keep the process alive.
        timer ??= setInterval(draw, 200).unref();
      }
      return {
        total(bytes) {
          d.total = bytes;
        },
        bytes(received) {
          d.received = received;
          if (tty || !d.total) return;
          const q = Math.floor((received / d.total) * 4);
          if (q > quarter && q < 4) {
            quarter = q;
            logger.event({ level: "info", task, msg: "progress", fields: { artifact, bytes: received, total: d.total, percent: q * 25 } });
          }
        },
        stop() {
          if (live.delete(d) && live.size === 0) {
            clearInterval(timer);
            timer = undefined;
            writeLine("\r\x1b[K");
          }
        },
        done() {
          const seconds = (performance.now() - d.started) / 1000;
          this.stop();
          logger.event({
            level: "info",
            task,
            msg: "downloaded",
            fields: { artifact, bytes: d.received, seconds: Math.round(seconds * 1000) / 1000, MBps: Math.round((d.received / MB / Math.max(seconds, 0.001)) * 10) / 10 },
          });
        },
      };
    },
  };
}
