// The layering DESIGN.md draws, read from the sources: src/oci is the OCI client (features that
// join it with snapshots or the goal live above it, in src/images), src/fs imports nothing above
// it, src/engine knows no task or artifact, and src/machine knows nothing of slots.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const SRC = join(ROOT, "src");

interface Import {
  /** the importing file, relative to the repo */
  file: string;
  /** the imported module, relative to the repo, without its extension */
  module: string;
  typeOnly: boolean;
}

const sources = (dir: string): string[] =>
  existsSync(join(SRC, dir)) ? (readdirSync(join(SRC, dir), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => join(SRC, dir, f)) : [];

/** Every import, re-export and dynamic import of a module inside src/ (packages and node: builtins are not layers). */
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

/** Modules that import no other src module, which any layer may use. */
const LEAVES = ["src/errors", "src/stable-json", "src/build-info"];

/** The imports of `dir` that break its rule, as readable lines. */
function offending(dir: string, allowed: (i: Import) => boolean): string[] {
  return sources(dir)
    .flatMap(srcImports)
    .filter((i) => !allowed(i))
    .map((i) => `${i.file} imports ${i.module}${i.typeOnly ? " (type)" : ""}`);
}

const under = (i: Import, ...dirs: string[]) => dirs.some((d) => i.module.startsWith(`src/${d}/`)) || LEAVES.includes(i.module);

test("the leaf modules import nothing of src", () => {
  for (const leaf of LEAVES) expect(srcImports(join(ROOT, `${leaf}.ts`))).toEqual([]);
});

test("src/oci imports only src/oci, src/host, src/http, src/fs, src/engine and the leaf modules", () => {
  const allowed = (i: Import) => under(i, "oci", "host", "http", "fs", "engine");
  expect(offending("oci", allowed)).toEqual([]);
});

test("src/fs imports nothing above it", () => {
  expect(offending("fs", (i) => under(i, "fs"))).toEqual([]);
});

test("src/engine knows no task or artifact: it imports only src/engine, src/fs and the leaf modules", () => {
  expect(offending("engine", (i) => under(i, "engine", "fs"))).toEqual([]);
});

test("src/machine imports nothing from src/slots", () => {
  expect(offending("machine", (i) => !i.module.startsWith("src/slots/") && i.module !== "src/slots")).toEqual([]);
});

test("the check sees imports, type imports and dynamic imports, and names each offender", () => {
  const images = offending("images", (i) => under(i, "oci", "fs", "engine"));
  expect(images).toContain("src/images/push.ts imports src/rootfs/bootstrap");
  expect(images).toContain("src/images/push.ts imports src/config/resolve (type)");
  expect(srcImports(join(SRC, "cli", "root.ts")).map((i) => i.module)).toContain("src/cli/render");
});
