// Download progress: on a terminal, one live line for all downloads together (those waiting for
// a download slot shown as queued); in JSON logs a bounded number of events per artifact (each
// quarter) and one completion event with the rate. Rates and ETAs count from the first byte, so
// the time spent queued or connecting does not drag them down.
import type { Logger } from "../engine/log";
import type { Terminal } from "../engine/terminal";

export interface Tracker {
  /** The response came (after any wait for a slot): `total` bytes in all, `offset` of them already here (a resume). */
  total(bytes: number | undefined, offset?: number): void;
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
  /** when the response came; undefined while queued */
  started?: number;
  /** bytes already there then (a resumed part), not counted in the rate */
  offset: number;
}

const seconds = (d: Live) => (performance.now() - (d.started ?? performance.now())) / 1000;
const rateOf = (d: Live) => (d.received - d.offset) / MB / Math.max(seconds(d), 0.001);

function describe(d: Live): string {
  if (d.started === undefined) return `${d.artifact} queued`;
  const rate = rateOf(d);
  const of = d.total ? `/${mb(d.total)}` : "";
  const moving = d.received > d.offset && seconds(d) >= 0.2;
  const eta = moving && d.total ? ` ETA ${Math.ceil((d.total - d.received) / MB / rate)}s` : "";
  return `${d.artifact} ${mb(d.received)}${of} MB${moving ? ` ${rate.toFixed(0)} MB/s` : ""}${eta}`;
}

/** The live line: downloads under way first, then the queued ones. */
function liveLine(downloads: Iterable<Live>): string {
  const all = [...downloads];
  const order = [...all.filter((d) => d.started !== undefined), ...all.filter((d) => d.started === undefined)];
  return order.map(describe).join(" | ");
}

export function createProgress(logger: Logger, terminal: Terminal | undefined = logger.terminal): Progress {
  const live = new Set<Live>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const draw = () => terminal?.live(liveLine(live));
  return {
    track(task, artifact) {
      const d: Live = { artifact, received: 0, offset: 0 };
      let quarter = 0;
      if (terminal) {
        live.add(d);
        draw();
        // unref: a display must never keep the process alive.
        timer ??= setInterval(draw, 200).unref();
      }
      return {
        total(bytes, offset = 0) {
          d.total = bytes;
          d.started = performance.now();
          d.offset = d.received = offset;
        },
        bytes(received) {
          d.received = received;
          if (terminal || !d.total) return;
          const q = Math.floor((received / d.total) * 4);
          if (q > quarter && q < 4) {
            quarter = q;
            logger.event({ level: "info", task, msg: "progress", fields: { artifact, bytes: received, total: d.total, percent: q * 25 } });
          }
        },
        stop() {
          if (!live.delete(d)) return;
          draw();
          if (live.size === 0) {
            clearInterval(timer);
            timer = undefined;
          }
        },
        done() {
          const secs = seconds(d);
          this.stop();
          logger.event({
            // A person watched it on the live line; a log keeps the figures.
            level: terminal ? "debug" : "info",
            task,
            msg: "downloaded",
            fields: { artifact, bytes: d.received, seconds: Math.round(secs * 1000) / 1000, MBps: Math.round(rateOf(d) * 10) / 10 },
          });
        },
      };
    },
  };
}
