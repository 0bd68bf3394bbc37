// Where a host tool is: on PATH, or in the sbin directories a non-root PATH leaves out.
export const toolPath = (cmd: string) => Bun.which(cmd, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
