// docs/reliability.md's table is the fault catalogue's, and every catalogued fault has a test.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FAULTS, renderReliabilityTable } from "../faults/catalog";

const root = join(import.meta.dir, "..", "..");

test("docs/reliability.md's table matches test/faults/catalog.ts (bun scripts/docs.ts)", () => {
  expect(readFileSync(join(root, "docs", "reliability.md"), "utf8")).toContain(renderReliabilityTable());
});

test("every catalogued fault has a faultTest", () => {
  const sources = ["faults", "e2e"]
    .flatMap((sub) => readdirSync(join(root, "test", sub)).filter((f) => f.endsWith(".test.ts")).map((f) => join(root, "test", sub, f)))
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  expect(FAULTS.filter((f) => !sources.includes(`faultTest("${f.id}"`)).map((f) => f.id)).toEqual([]);
});
