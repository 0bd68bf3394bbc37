// Writing to stdout and stderr, and telling whether one is a terminal, without process.stdout and
// process.stderr: building those streams costs a compiled executable more start-up (about 25 ms
// of CPU on a 2-core VM) than a warm run's whole work. Writes are synchronous, as a log's should
// be: a crash leaves every line before it. node:fs itself loads on the first write (about 5 ms):
// `version` never needs it.

let fs: typeof import("node:fs") | undefined;
const nodeFs = () => (fs ??= require("node:fs") as typeof import("node:fs"));

type Fd = 1 | 2;

function write(fd: Fd, text: string): void {
  let bytes = Buffer.from(text);
  while (bytes.byteLength) {
    try {
      bytes = bytes.subarray(nodeFs().writeSync(fd, bytes));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A pipe set non-blocking by whoever made it: wait for the reader.
      if (code === "EAGAIN") Bun.sleepSync(1);
      // The reader is gone (`| head`): the run goes on, as it would with nobody reading a file.
      else if (code === "EPIPE") return;
      else throw err;
    }
  }
}

export const writeStdout = (text: string) => write(1, text);
export const writeStderr = (text: string) => write(2, text);

/** Linux's memory devices (/dev/null, /dev/zero, …): character devices that are never a terminal. */
const MEMORY_DEVICES = 1;

/**
 * isatty(fd). Most runs that are not at a terminal write to a file, a pipe or /dev/null, which
 * fstat tells apart at once; only another character device asks node:tty, which costs about
 * 10 ms to load.
 */
export function isTerminal(fd: Fd): boolean {
  try {
    const st = nodeFs().fstatSync(fd);
    if (!st.isCharacterDevice() || Math.floor(st.rdev / 256) % 4096 === MEMORY_DEVICES) return false;
  } catch {
    return false;
  }
  return (require("node:tty") as typeof import("node:tty")).isatty(fd);
}
