// Assembles web/dist after tsc: the page's static files (page/) and the
// browser build of @msgpack/msgpack (its ES modules, unchanged, under
// dist/vendor/), so the page runs with no bundler and lobbyd embeds dist/
// as it is. The page maps the bare import "@msgpack/msgpack" to the
// vendored copy with an import map.
import { cpSync, mkdirSync, rmSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(web, "dist");
mkdirSync(dist, { recursive: true });
for (const f of readdirSync(join(web, "page"))) cpSync(join(web, "page", f), join(dist, f), { recursive: true });
const vendor = join(dist, "vendor", "msgpack");
rmSync(vendor, { recursive: true, force: true });
const src = join(web, "node_modules", "@msgpack", "msgpack");
cpSync(join(src, "dist.esm"), vendor, {
  recursive: true,
  filter: (p) => !p.endsWith(".map") && !p.endsWith(".d.ts") && !p.endsWith(".tsbuildinfo"),
});
cpSync(join(src, "LICENSE"), join(vendor, "LICENSE"));
