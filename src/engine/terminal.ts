// The one writer of a person's terminal: log lines scroll above a single live line (download
// progress), which is erased before each log line and drawn again after it. The live line is cut
// to the terminal's width: a wrapped line could not be erased with \r and would stay behind.

export interface Terminal {
  /** Write complete log lines above the live line. */
  log(text: string): void;
  /** Show `text` as the live line; an empty text removes it. */
  live(text: string): void;
  /** Current width in columns. */
  columns(): number;
}

export interface TerminalOutput {
  write(text: string): unknown;
  columns?: number;
}

const ERASE = "\r\x1b[K";

/** `text` cut to fit `width` columns without touching the last one (where a terminal wraps). */
export function fit(text: string, width: number): string {
  const room = Math.max(width - 1, 1);
  return text.length <= room ? text : `${text.slice(0, room - 1)}…`;
}

export function createTerminal(out: TerminalOutput = process.stdout): Terminal {
  let current = "";
  const columns = () => out.columns || 80;
  return {
    columns,
    log(text) {
      // Fitted again on every draw: the terminal may have been resized since.
      out.write(current ? `${ERASE}${text}${fit(current, columns())}` : text);
    },
    live(text) {
      if (text === current) return;
      current = text;
      out.write(`${ERASE}${text && fit(text, columns())}`);
    },
  };
}
