// Every fault the suite injects and what the tool does about it. docs/reliability.md's table
// is rendered from this list, and a test checks each entry has a test (faultTest) behind it.
export interface Fault {
  id: string;
  area: "input" | "http" | "archive" | "registry" | "process" | "filesystem";
  fault: string;
  behaviour: string;
}

export const FAULTS: Fault[] = [
  { id: "input-type", area: "input", fault: "a config field of the wrong type (`machineDir: 42`)", behaviour: "exit 2, `file:line: field: expected string, got number`, nothing touched" },
  { id: "input-unknown", area: "input", fault: "an unknown field in a config file (a typo)", behaviour: "exit 2, `file:line: field: unknown field`, nothing touched" },
  { id: "input-enum", area: "input", fault: "a bad enum value (`--arch sparc`)", behaviour: "exit 2, `--arch: expected amd64|arm64|x86_64|aarch64, got sparc`, nothing touched" },
  { id: "input-url", area: "input", fault: "a bad URL (`--mirror ftp://…`, `KUBE_ROOTFS_MIRROR=not a url`)", behaviour: "exit 2 naming the flag or env var, nothing touched" },
  { id: "input-version", area: "input", fault: "a bad version string (`--kubernetes-version 1.x`)", behaviour: "exit 2 naming the flag, nothing touched" },
  { id: "input-sha256", area: "input", fault: "a pinned sha256 of the wrong length", behaviour: "exit 2 naming the field, nothing touched" },
  { id: "input-flag", area: "input", fault: "an unknown flag or `--skip-phases` name", behaviour: "exit 2 naming it, nothing touched" },
  { id: "input-yaml", area: "input", fault: "a config file that is not valid YAML/JSON, or missing", behaviour: "exit 2 naming the file, nothing touched" },
  { id: "http-500-then-ok", area: "http", fault: "HTTP 500, then the right answer", behaviour: "retried with backoff; the run succeeds" },
  { id: "http-404", area: "http", fault: "HTTP 404 for an asset", behaviour: "exit 1, `<task>: <artifact>: <url>: HTTP 404 (not found)`, no retry, nothing installed" },
  { id: "http-reset", area: "http", fault: "the connection reset mid-body", behaviour: "retried, resuming with a Range request; the run succeeds" },
  { id: "http-short", area: "http", fault: "a body shorter than its Content-Length", behaviour: "retried, resuming with a Range request; the run succeeds" },
  { id: "http-stall", area: "http", fault: "a server that stops sending (stall)", behaviour: "cut after `timeouts.stall` seconds and retried; after `retries` attempts exit 1 naming the URL and `stalled`" },
  { id: "http-endless", area: "http", fault: "an endless body past the size cap", behaviour: "cut off at `maxDownloadBytes`: exit 1 naming the URL and the cap, no partial file kept" },
  { id: "http-wrong-checksum", area: "http", fault: "bytes that do not match the published checksum", behaviour: "exit 1, `sha256 mismatch for <url>: expected …, got …`, nothing installed, nothing cached" },
  { id: "http-garbage-checksum", area: "http", fault: "a checksum file that is garbage (an HTML error page)", behaviour: "exit 1, `checksum file <url> has no sha256 for <asset>`, nothing installed" },
  { id: "http-redirect-loop", area: "http", fault: "a redirect loop", behaviour: "exit 1, `<url>: more than 10 redirects`" },
  { id: "http-trickle", area: "http", fault: "a slow trickle that still completes", behaviour: "waits (no stall is a stall while bytes arrive); the run succeeds" },
  { id: "archive-traversal", area: "archive", fault: "a tar entry with `../` in its path", behaviour: "exit 1, `archive <url>: unsafe entry path ../…`, nothing installed" },
  { id: "archive-absolute", area: "archive", fault: "a tar entry with an absolute path", behaviour: "exit 1, `archive <url>: unsafe entry path /…`, nothing installed" },
  { id: "archive-symlink-out", area: "archive", fault: "a symlink pointing out of the rootfs, then an entry through it", behaviour: "exit 1, `entry … is a SymbolicLink; only regular files and directories are accepted`, nothing written outside" },
  { id: "archive-hardlink-out", area: "archive", fault: "a hardlink to a host file", behaviour: "exit 1, the entry is refused as a Link, nothing installed" },
  { id: "archive-device", area: "archive", fault: "device and fifo entries", behaviour: "exit 1, the entry is refused by type, nothing installed" },
  { id: "archive-corrupt-gzip", area: "archive", fault: "a truncated or corrupt gzip (with a matching checksum)", behaviour: "exit 1, `archive <url>: not a valid tar.gz (…)`, nothing installed" },
  { id: "archive-entry-cap", area: "archive", fault: "an entry larger than the size cap", behaviour: "exit 1, `entry … is N bytes, over the …-byte cap`, nothing installed" },
  { id: "registry-bad-ref", area: "registry", fault: "a malformed image reference (`--bootstrap-image Host/UPPER:tag`)", behaviour: "exit 2, `--bootstrap-image: not an image reference: …`, nothing touched" },
  { id: "registry-corrupt-blob", area: "registry", fault: "a registry serving a blob with a flipped byte", behaviour: "exit 1, `blob sha256:… from registry <host>: digest mismatch (got sha256:…)`, nothing cached under its name, nothing in the machine dir" },
  { id: "registry-wrong-manifest", area: "registry", fault: "a manifest whose bytes are not the digest the registry announces", behaviour: "exit 1, `registry <host>: manifest <repo>:<tag> has digest …, expected …`, nothing in the machine dir" },
  { id: "registry-wrong-credentials", area: "registry", fault: "wrong credentials in the registry auth file", behaviour: "exit 1, `registry <host>: credentials for <user> rejected (HTTP 401 …)`, nothing in the machine dir" },
  { id: "registry-untrusted-cert", area: "registry", fault: "a TLS certificate from a CA not given with `--registry-ca`", behaviour: "exit 1, `registry <host>: TLS certificate not trusted (…); pass --registry-ca FILE …`, nothing in the machine dir" },
  { id: "image-symlink-out", area: "registry", fault: "an image layer with a symlink out of the rootfs, and a later layer writing through it", behaviour: "exit 1, `image <ref>: layer sha256:…, entry …: … leads out of the rootfs`, nothing written outside, nothing in the machine dir" },
  { id: "process-sigkill", area: "process", fault: "SIGKILL at random points of a provision (download, extract, install, manifest write), 20 times", behaviour: "the next run converges and `verify` is clean every time" },
  { id: "process-sigkill-bootstrap", area: "process", fault: "SIGKILL of the run and debootstrap's whole process group mid-bootstrap (test/e2e/boot.test.ts)", behaviour: "the machine dir was never created; the next run unmounts and removes the staging dir, bootstraps again and converges" },
  { id: "process-sigterm", area: "process", fault: "SIGTERM (or SIGINT, SIGHUP) mid-download", behaviour: "exit 143 (130, 129), one line naming what was interrupted, temp files removed; the next run converges" },
  { id: "process-concurrent", area: "process", fault: "two concurrent runs of one machine", behaviour: "the second exits 1 at once naming the holder's pid; two machines may run at once and share the cache" },
  { id: "fs-full", area: "filesystem", fault: "a full disk (a small tmpfs as rootfs or cache)", behaviour: "exit 1, `write <path>: no space left on device`, no partial files; converges once there is room" },
  { id: "fs-readonly", area: "filesystem", fault: "a read-only target", behaviour: "exit 1, `… read-only file system` naming the path; converges once writable" },
  { id: "fs-etc-symlink", area: "filesystem", fault: "a rootfs whose `etc` is a symlink to the host's `/etc`", behaviour: "exit 1, the write is refused as leaving the rootfs; the host's files are untouched" },
];

export const faultById = new Map(FAULTS.map((f) => [f.id, f]));

export function renderReliabilityTable(): string {
  return ["| area | fault | what kube-rootfs does |", "|---|---|---|", ...FAULTS.map((f) => `| ${f.area} | ${f.fault} | ${f.behaviour} |`)].join("\n");
}
