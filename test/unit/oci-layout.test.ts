// An image layout shared by runs at once (two provisions with one cache): every tag any of them
// writes survives in index.json.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ImageLayout, REF_NAME } from "../../src/oci/layout";
import { tempDir } from "../helpers/tmp";

const TAGGER = `
import { ImageLayout } from "${join(import.meta.dir, "../../src/oci/layout")}";
const [dir, who] = process.argv.slice(2);
const layout = new ImageLayout(dir);
await layout.init();
const digest = await layout.putBytes(new TextEncoder().encode(who));
for (let i = 0; i < 25; i++) await layout.tag(\`\${who}-\${i}\`, { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: who.length });
`;

test("four processes tagging into one layout at once lose no entry", async () => {
  const dir = tempDir("layout-tags");
  const script = join(dir, "tagger.ts");
  await Bun.write(script, TAGGER);
  const layoutDir = join(dir, "layout");
  const procs = ["a", "b", "c", "d"].map((who) => Bun.spawn([process.execPath, script, layoutDir, who], { stderr: "pipe" }));
  const codes = await Promise.all(procs.map(async (p) => [await p.exited, await new Response(p.stderr).text()]));
  expect(codes).toEqual(procs.map(() => [0, ""]));
  const names = new ImageLayout(layoutDir).index().manifests.map((d) => d.annotations?.[REF_NAME]);
  expect(names).toHaveLength(100);
  expect(new Set(names).size).toBe(100);
});
