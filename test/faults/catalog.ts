// Every fault the suite injects and what the tool does about it. The README's Reliability table
// is rendered from this list, and a test checks each entry has a test (faultTest) behind it.
export interface Fault {
  id: string;
  area: "input" | "http" | "archive" | "process" | "filesystem";
  fault: string;
  behaviour: string;
}

export const FAULTS: Fault[] = [
  { id: "input-type", area: "input", fault: "a config field of the wrong type (`machineDir: 42`)", behaviour: "exit 2, `file:line: field: expected string, got number`, nothing touched" },
  { id: "input-unknown", area: "input", fault: "an unknown field in a config file (a typo)", behaviour: "exit 2, `file:line: field: unknown field`, nothing touched" },
  { id: "input-enum", area: "input", fault: "a bad enum value (`--arch sparc`)", behaviour: "exit 2, `--arch: expected amd64|arm64, got sparc`, nothing touched" },
  { id: "input-url", area: "input", fault: "a bad URL (`--mirror ftp://…`, `KUBE_ROOTFS_MIRROR=not a url`)", behaviour: "exit 2 naming the flag or env var, nothing touched" },
  { id: "input-version", area: "input", fault: "a bad version string (`--kubernetes-version 1.x`)", behaviour: "exit 2 naming the flag, nothing touched" },
  { id: "input-sha256", area: "input", fault: "a pinned sha256 of the wrong length", behaviour: "exit 2 naming the field, nothing touched" },
  { id: "input-flag", area: "input", fault: "an unknown flag or `--skip-phases` name", behaviour: "exit 2 naming it, nothing touched" },
  { id: "input-yaml", area: "input", fault: "a config file that is not valid YAML/JSON, or missing", behaviour: "exit 2 naming the file, nothing touched" },
  { id: "fs-etc-symlink", area: "filesystem", fault: "a rootfs whose `etc` is a symlink to the host's `/etc`", behaviour: "exit 1, the write is refused as leaving the rootfs; the host's files are untouched" },
];

export const faultById = new Map(FAULTS.map((f) => [f.id, f]));

export function renderReliabilityTable(): string {
  return ["| area | fault | what kube-rootfs does |", "|---|---|---|", ...FAULTS.map((f) => `| ${f.area} | ${f.fault} | ${f.behaviour} |`)].join("\n");
}
