// The rooms of src/ and their order, stated once, read from the sources. A room is a folder of
// src/ (src/rootfs/bootstrap is part of rootfs) or a file directly in it (src/provision.ts).
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const SRC = join(ROOT, "src");

/**
 * From the top down, as DESIGN.md's layout lists them. A room imports only its own modules and
 * the rooms of the levels below it. Rooms on one level are siblings: neither imports the other,
 * so no two rooms can import each other and no cycle between rooms can form.
 */
const ORDER: string[][] = [
  ["main"],
  ["cli"],
  // the update flow drives the machine, the bundle's lock and verify; doctor prints readiness
  ["slots"],
  ["machine", "bundle", "verify", "doctor"],
  // what provision writes from templates: render prints it, verify compares the machine with it
  ["rendered"],
  ["provision"],
  ["readiness"],
  // The tasks. DESIGN.md draws them as one level, but they build on each other: the node's
  // runtime loads the pre-loaded images, images are built from rootfs snapshots and pushed, the
  // workspace binds the GPU and records its machine in the host task's manifest; so they stand in
  // that order.
  ["runtime"],
  ["images"],
  ["rootfs"],
  ["gpu", "artifacts", "hostprep"],
  // the goal state, resolved from the host's facts; it parses image references with oci/ and
  // computes the clients' options
  ["config"],
  // the clients (oci: the OCI registry client; kube: the Kubernetes API client), which know no goal
  ["oci", "kube"],
  ["host"],
  ["http"],
  ["engine"],
  ["fs"],
  // the leaf modules, which import nothing of src (zod.ts: zod as every schema uses it)
  ["errors", "stable-json", "build-info", "zod"],
];

const levelOf = new Map(ORDER.flatMap((rooms, level) => rooms.map((room) => [room, level] as const)));

/** A room may import `to` when it is itself or on a level below. */
function mayImport(from: string, to: string, levels = levelOf): boolean {
  const [a, b] = [levels.get(from), levels.get(to)];
  return from === to || (a !== undefined && b !== undefined && b > a);
}

interface Import {
  /** the importing file, relative to the repo */
  file: string;
  /** the imported module, relative to the repo, without its extension */
  module: string;
  typeOnly: boolean;
}

const SOURCES = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => join(SRC, f));

/** `src/rootfs/bootstrap/plan.ts` → rootfs, `src/provision` → provision. */
const roomOf = (path: string) => path.replace(/^src\//, "").split("/")[0]!.replace(/\.ts$/, "");

/** Every import, re-export and dynamic import of a module inside src/ (packages and node: builtins are not rooms). */
function srcImports(path: string): Import[] {
  const text = readFileSync(path, "utf8");
  const found = [
    ...[...text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+"(\.[^"]+)"/gms)].map((m) => ({ spec: m[2]!, typeOnly: Boolean(m[1]) })),
    ...[...text.matchAll(/import\(\s*"(\.[^"]+)"\s*\)/g)].map((m) => ({ spec: m[1]!, typeOnly: false })),
  ];
  return found.map(({ spec, typeOnly }) => ({
    file: relative(ROOT, path),
    module: relative(ROOT, resolve(dirname(path), spec)).replace(/\.ts$/, ""),
    typeOnly,
  }));
}

/** Every import of src that the order forbids, as readable lines. */
function violations(order: string[][]): string[] {
  const levels = new Map(order.flatMap((rooms, level) => rooms.map((room) => [room, level] as const)));
  return SOURCES.flatMap(srcImports)
    .filter((i) => !mayImport(roomOf(i.file), roomOf(i.module), levels))
    .map((i) => `${i.file} imports ${i.module}${i.typeOnly ? " (type)" : ""}`);
}

test("every room of src has a place in the order, once", () => {
  const rooms = new Set(SOURCES.map((f) => roomOf(relative(ROOT, f))));
  expect([...rooms].filter((r) => !levelOf.has(r))).toEqual([]);
  expect(levelOf.size).toBe(ORDER.flat().length);
});

test("every import of src points to the importer's own room or a room on a level below", () => {
  expect(violations(ORDER)).toEqual([]);
});

test("no two rooms may import each other, so no cycle can form", () => {
  const rooms = ORDER.flat();
  const both = rooms.flatMap((a) => rooms.filter((b) => a < b && mayImport(a, b) && mayImport(b, a)).map((b) => `${a} ⇄ ${b}`));
  expect(both).toEqual([]);
});

test("the arrows that once ran up or sideways stay forbidden", () => {
  const arrows = [
    ["oci", "config"], // the OCI client took Arch from the goal's schema
    ["config", "gpu"], // the goal resolved the NVIDIA facts from gpu/ and read its record's schema
    ["rootfs", "images"], // the image bootstrap took the registry options from images/
    ["oci", "artifacts"], // the OCI client streamed through the artifact pipeline's download
  ];
  expect(arrows.filter(([from, to]) => mayImport(from!, to!))).toEqual([]);
});

test("the check sees imports, type imports and dynamic imports, and names each offender", () => {
  // Put images below rootfs and config, and its imports of them surface.
  const wrong = ORDER.filter((rooms) => !rooms.includes("images")).flatMap((rooms) => (rooms.includes("fs") ? [["images"], rooms] : [rooms]));
  const found = violations(wrong);
  expect(found).toContain("src/images/push.ts imports src/rootfs/bootstrap");
  expect(found).toContain("src/images/push.ts imports src/config/resolve (type)");
  expect(srcImports(join(SRC, "cli", "root.ts")).map((i) => i.module)).toContain("src/cli/render");
  // A room the order does not name may import nothing and be imported by nothing.
  expect(violations(ORDER.map((rooms) => rooms.filter((r) => r !== "host")))).toContain("src/oci/pull.ts imports src/host/arch (type)");
});

test("zod is imported by src/zod.ts alone, as zod/mini with its English messages: no run loads the classic API", () => {
  const imports = SOURCES.flatMap((path) =>
    [...readFileSync(path, "utf8").matchAll(/^(?:import|export)\s[^;]*?from\s+"(zod[^"]*)"|import\(\s*"(zod[^"]*)"\s*\)/gms)].map((m) => `${relative(ROOT, path)}: ${m[1] ?? m[2]}`),
  );
  expect(imports.sort()).toEqual(["src/zod.ts: zod/mini", "src/zod.ts: zod/mini", "src/zod.ts: zod/v4/locales/en.js"]);
});
