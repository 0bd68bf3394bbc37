// A precondition as data: a name and a run against the host probe, giving ok, warn (shown, not
// blocking) or fail (a blocker) with its fix.
import { errorMessage } from "../errors";
import type { HostProbe } from "../host/probe";

export type Status = "ok" | "warn" | "fail";

export interface CheckResult {
  status: Status;
  message: string;
  fix?: string;
}

export interface Check {
  name: string;
  /** what makes two checks the same one, where the name alone does not (one per arch) */
  key?: string;
  /** it waits on another process (a firewall tool): started before the others, so that process runs while they read their files */
  waits?: boolean;
  run(host: HostProbe): CheckResult | Promise<CheckResult>;
}

export interface Report extends CheckResult {
  name: string;
}

export const ok = (message: string): CheckResult => ({ status: "ok", message });
export const bad = (status: "warn" | "fail", message: string, fix: string): CheckResult => ({ status, message, fix });

/** Every check's report, in the order given (the ones that wait on a process are started first). */
export async function runChecks(checks: Check[], host: HostProbe): Promise<Report[]> {
  const run = async (c: Check): Promise<CheckResult> => {
    try {
      return await c.run(host);
    } catch (err) {
      return bad("fail", errorMessage(err), "see the message");
    }
  };
  const waiting = new Map(checks.filter((c) => c.waits).map((c) => [c, run(c)]));
  return Promise.all(checks.map(async (c) => ({ name: c.name, ...(await (waiting.get(c) ?? run(c))) })));
}

/** `root: running as uid 1000 (fix: run as root …)` */
export const describeReport = (r: Report) => `${r.name}: ${r.message}${r.fix ? ` (fix: ${r.fix})` : ""}`;

/** One aligned line per check: `fail  root: running as uid 1000 (fix: run as root …)`. */
export const formatReport = (r: Report) => `${r.status.padEnd(4)}  ${describeReport(r)}`;
