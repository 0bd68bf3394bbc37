// Download progress: one live line for all downloads on a terminal; bounded events in JSON.
import { expect, test } from "bun:test";
import { createProgress } from "../../src/artifacts/progress";
import { jsonLogger, shownToPerson, type LogEvent, type Logger } from "../../src/engine/log";
import { createTerminal, fit } from "../../src/engine/terminal";

const recording = () => {
  const events: LogEvent[] = [];
  const logger: Logger = { ...jsonLogger(() => {}), event: (e) => void events.push(e) };
  return { events, logger };
};

/** A terminal of `columns` that records every write. */
const screen = (columns: number) => {
  const writes: string[] = [];
  return { writes, terminal: createTerminal({ write: (t) => void writes.push(t), columns }) };
};

const MB = 1024 * 1024;

test("JSON: at most three progress events per artifact, then one with bytes, seconds and MB/s", () => {
  const { events, logger } = recording();
  const t = createProgress(logger, undefined).track("kube", "kubelet");
  t.total(1000);
  for (let n = 10; n <= 1000; n += 10) t.bytes(n);
  t.done();
  expect(events.filter((e) => e.msg === "progress").map((e) => e.fields!.percent)).toEqual([25, 50, 75]);
  expect(events.at(-1)).toMatchObject({ msg: "downloaded", task: "kube", fields: { artifact: "kubelet", bytes: 1000 } });
  expect(events.at(-1)!.fields).toHaveProperty("MBps");
});

test("terminal: one line for every download, queued ones named as queued, cleared when the last is done", async () => {
  const { events, logger } = recording();
  const { writes, terminal } = screen(200);
  const progress = createProgress(logger, terminal);
  const a = progress.track("kube", "kubelet");
  const b = progress.track("cri", "containerd");
  const c = progress.track("cni", "cni");
  expect(writes.at(-1)).toBe("\r\x1b[Kkubelet queued | containerd queued | cni queued");
  a.total(100 * MB);
  a.bytes(50 * MB);
  b.total(undefined);
  b.bytes(3 * MB);
  await Bun.sleep(450);
  expect(writes.at(-1)).toMatch(/^\r\x1b\[Kkubelet 50\/100 MB \d+ MB\/s ETA \d+s \| containerd 3 MB \d+ MB\/s \| cni queued$/);
  expect(events.filter((e) => e.msg === "progress")).toHaveLength(0);
  a.done();
  b.stop(); // a failed download leaves the display too
  c.stop();
  expect(writes.at(-1)).toBe("\r\x1b[K");
  expect(events.filter((e) => e.msg === "downloaded").map((e) => e.fields!.artifact)).toEqual(["kubelet"]);
});

test("a rate counts from the first byte: waiting for a slot and resumed bytes do not count", async () => {
  const { events, logger } = recording();
  const t = createProgress(logger, undefined).track("kube", "kubelet");
  await Bun.sleep(300); // queued
  t.total(4 * MB, 2 * MB); // a resume: half was there already
  await Bun.sleep(100);
  t.bytes(4 * MB);
  t.done();
  const { seconds, MBps } = events.at(-1)!.fields as { seconds: number; MBps: number };
  expect(seconds).toBeLessThan(0.29);
  expect(MBps).toBeCloseTo(2 / seconds, 0);
});

test("the live line never reaches the last column; a log line erases it first and draws it again after", () => {
  const { writes, terminal } = screen(20);
  terminal.live("containerd 12.5/40.1 MB 3 MB/s ETA 9s");
  expect(writes.at(-1)).toBe("\r\x1b[Kcontainerd 12.5/40…");
  expect(fit("kubelet 1/2 MB", 20)).toBe("kubelet 1/2 MB");
  terminal.log("ℹ kube: installed\n");
  expect(writes.at(-1)).toBe("\r\x1b[Kℹ kube: installed\ncontainerd 12.5/40…");
  terminal.live("");
  terminal.log("done\n");
  expect(writes.slice(-2)).toEqual(["\r\x1b[K", "done\n"]);
});

test("a person sees what tasks did, not each start, skip, group or (until the final report) failure", () => {
  const shown = (e: Partial<LogEvent>, verbose = false) => shownToPerson({ level: "info", msg: "", ...e }, verbose);
  expect(shown({ task: "kube", msg: "installed" })).toBe(true);
  expect(shown({ task: "kube", msg: "completed", duration: 3 })).toBe(true);
  expect(shown({ task: "kube", msg: "started" })).toBe(false);
  expect(shown({ task: "kube", msg: "skipped" })).toBe(false);
  expect(shown({ task: "install", msg: "completed", group: true })).toBe(false);
  expect(shown({ level: "error", task: "kube", msg: "failed" })).toBe(false);
  expect(shown({ level: "error", task: "kube", msg: "failed" }, true)).toBe(false);
  expect(shown({ task: "kube", msg: "started" }, true)).toBe(true);
});
