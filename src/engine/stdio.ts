// Writing to stdout and stderr, and telling whether one is a terminal, without process.stdout and
// process.stderr: building those streams costs a compiled executable more start-up (about 25 ms
// of CPU on a 2-core VM) than a warm run's whole work. Writes are synchronous, as a log's should
// be: a crash leaves every line before it. node:fs itself loads on the first write (about 5 ms):
// `version` and --help never need it.

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

/**
 * Lines (a text ending in a newline) to stdout through the runtime's console, which writes at
 * once and loads no node:fs: for a command that writes nothing else (--help, version).
 */
export const printLines = (text: string) => console.log(text.replace(/\n$/, ""));

/** The runtime's own isatty, as Node's tty module has it: loading node:tty costs about 10 ms, node:fs 5. */
const ttyBinding = () => (process as unknown as { binding(name: "tty_wrap"): { isTTY(fd: number): boolean } }).binding("tty_wrap");

/** isatty(fd). */
export const isTerminal = (fd: Fd): boolean => ttyBinding().isTTY(fd);
