// Download progress: one live line for all downloads on a terminal; bounded events in JSON.
import { expect, test } from "bun:test";
import { createProgress } from "../../src/artifacts/progress";
import { jsonLogger, type LogEvent, type Logger } from "../../src/engine/log";

const recording = () => {
  const events: LogEvent[] = [];
  const logger: Logger = { ...jsonLogger(() => {}), event: (e) => void events.push(e) };
  return { events, logger };
};

test("JSON: at most three progress events per artifact, then one with bytes, seconds and MB/s", () => {
  const { events, logger } = recording();
  const t = createProgress(logger, false).track("kube", "kubelet");
  t.total(1000);
  for (let n = 10; n <= 1000; n += 10) t.bytes(n);
  t.done();
  expect(events.filter((e) => e.msg === "progress").map((e) => e.fields!.percent)).toEqual([25, 50, 75]);
  expect(events.at(-1)).toMatchObject({ msg: "downloaded", task: "kube", fields: { artifact: "kubelet", bytes: 1000 } });
  expect(events.at(-1)!.fields).toHaveProperty("MBps");
});

test("terminal: one line for every download in flight, cleared when the last is done", async () => {
  const { events, logger } = recording();
  const lines: string[] = [];
  const progress = createProgress(logger, true, (t) => void lines.push(t));
  const a = progress.track("kube", "kubelet");
  const b = progress.track("cri", "containerd");
  a.total(100 * 1024 * 1024);
  a.bytes(50 * 1024 * 1024);
  b.bytes(3 * 1024 * 1024);
  await Bun.sleep(250);
  expect(lines.at(-1)).toMatch(/^\r\x1b\[Kkubelet 50\/100 MB \d+ MB\/s ETA \d+s \| containerd 3 MB \d+ MB\/s$/);
  expect(events.filter((e) => e.msg === "progress")).toHaveLength(0);
  a.done();
  b.stop(); // a failed download leaves the display too
  expect(lines.at(-1)).toBe("\r\x1b[K");
  expect(events.filter((e) => e.msg === "downloaded").map((e) => e.fields!.artifact)).toEqual(["kubelet"]);
});
