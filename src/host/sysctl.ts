// The running kernel's settings, read from /proc/sys under a host root (a test's fake host has
// plain files there), and written back the way sysctl -w does.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ioError } from "../fs/atomic";
import { readText } from "../fs/read";

/** /proc/sys path of a dotted key: net.ipv4.ip_forward → <root>/proc/sys/net/ipv4/ip_forward. */
export const sysctlPath = (root: string, key: string) => join(root, "proc/sys", ...key.split("."));

/** The key's value as sysctl prints it (tabs between fields become one space), undefined when the kernel has no such key. */
export function readSysctl(root: string, key: string): string | undefined {
  const text = readText(sysctlPath(root, key));
  return text === undefined ? undefined : text.trim().split(/\s+/).join(" ");
}

/** Set the key in the running kernel, as sysctl -w does. */
export function writeSysctl(root: string, key: string, value: string) {
  const path = sysctlPath(root, key);
  try {
    writeFileSync(path, `${value}\n`, { flag: "r+" });
  } catch (err) {
    throw ioError(`set ${key} (${path})`, err);
  }
}
