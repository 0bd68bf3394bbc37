import { test } from "bun:test";
import { faultById } from "./catalog";

/** A test for one catalogued fault, named after its entry. */
export function faultTest(id: string, fn: () => Promise<void> | void, timeout?: number) {
  const f = faultById.get(id);
  if (!f) throw new Error(`fault ${id} is not in test/faults/catalog.ts`);
  test(`[${f.area}] ${f.fault}`, fn, timeout);
}
