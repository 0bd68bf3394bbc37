// A file or symlink a task writes, as data with a short stable name: the task writes it,
// verify compares the machine with it and render prints it, all from the same list.
export interface FileSpec {
  /** short and stable: what `render --file` picks it by */
  name: string;
  /** relative to the root it is written in (the rootfs, or "/" for host files), unless said otherwise */
  path: string;
  content: string;
  mode: number;
}

export interface LinkSpec {
  name: string;
  path: string;
  target: string;
}
