// Run the whole test suite with bun test and end with the plain line CI reads:
// "N passed, N failed". Extra arguments go to bun test (paths, -t filters).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "kube-rootfs-junit-"));
const report = join(dir, "junit.xml");
const proc = Bun.spawn([process.execPath, "test", "--reporter=junit", `--reporter-outfile=${report}`, ...process.argv.slice(2)], {
  cwd: join(import.meta.dir, ".."),
  // test/setup.ts: the suite fails if it leaves this host's kernel settings or host files changed
  env: { ...process.env, TEST_HOST_GUARD: "1" },
  stdio: ["ignore", "inherit", "inherit"],
});
const code = await proc.exited;

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const xml = readFileSync(report, "utf8");
  // One <testcase …/> or <testcase …>…</testcase> per test; a failure or error element inside marks it failed.
  for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) failed++;
    else if (/<skipped\b/.test(body)) skipped++;
    else passed++;
  }
} catch {
  // no report: bun test died before writing it; the exit code below says so
}
rmSync(dir, { recursive: true, force: true });
// A run that died outside any test (a syntax error, a crash) still fails CI.
if (code !== 0 && failed === 0) failed = 1;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(code);
