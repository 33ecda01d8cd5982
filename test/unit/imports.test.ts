// The program's imports run one way: config → plan → render → components → index.ts, and the
// policy pack and the report read config, plan and render only. A file may import its own folder
// and any folder before it, never one after it, and no chain of imports comes back to where it
// started. Type-only imports count too: a circle of types is still a circle for a reader.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../harness/stacks";

/** Each program folder's place in the one-way order (index.ts last). */
const LAYER: Record<string, number> = { config: 0, plan: 1, render: 2, components: 3, "index.ts": 4 };
/** Folders outside the chain, and the folders they may import. */
const CONSUMERS: Record<string, readonly string[]> = {
  policies: ["config", "plan", "render", "policies"],
  report: ["config", "plan", "render", "report"],
};

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : sources(rel);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [rel] : [];
  });
}

/** The repository files a source imports (relative specifiers only), resolved as Node does. */
export function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from|import|require\()\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]);
  return specs.map((spec) => {
    const base = path.normalize(path.join(path.dirname(file), spec));
    for (const candidate of [base, `${base}.ts`, `${base}.js`, path.join(base, "index.ts")]) {
      const full = path.join(ROOT, candidate);
      if (fs.existsSync(full) && fs.statSync(full).isFile()) return candidate;
    }
    throw new Error(`${file}: cannot resolve import "${spec}"`);
  });
}

const top = (file: string) => file.split(path.sep)[0];

/** Every import that goes against the order: `file → target`. */
function upwardImports(graph: Map<string, string[]>): string[] {
  const wrong: string[] = [];
  for (const [file, imports] of graph) {
    const from = top(file);
    for (const target of imports) {
      const to = top(target);
      if (to === "node") continue; // the node script and its JS helpers are data to the program
      const ok =
        from in CONSUMERS ? CONSUMERS[from].includes(to) : to in LAYER && LAYER[to] <= LAYER[from] && to !== "index.ts";
      if (!ok) wrong.push(`${file} → ${target}`);
    }
  }
  return wrong;
}

/** Every circle of imports, each as the files around it (depth-first). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (!graph.has(g)) continue;
      if (state.get(g) === "open") found.push([...stack.slice(stack.indexOf(g)), g]);
      else if (state.get(g) === undefined) visit(g);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (state.get(f) === undefined) visit(f);
  return found;
}

describe("imports run one way (config → plan → render → components → index.ts), with no circles", () => {
  const files = ["index.ts", ...["config", "plan", "render", "components", "policies", "report"].flatMap(sources)];
  const graph = new Map(files.map((f) => [f, importsOf(f, fs.readFileSync(path.join(ROOT, f), "utf8"))]));

  it("reads every program folder (the check would pass vacuously on an empty list)", () => {
    for (const dir of ["config", "plan", "render", "components", "policies", "report"]) {
      assert.ok(
        files.some((f) => top(f) === dir),
        `no sources found in ${dir}/`,
      );
    }
    assert.ok([...graph.values()].flat().length > 100, "imports were found");
  });

  it("no file imports a folder after its own in the order, and the policy pack and report stay out of components", () => {
    assert.deepEqual(upwardImports(graph), []);
  });

  it("no chain of imports comes back to the file it started from", () => {
    assert.deepEqual(
      cycles(graph).map((c) => c.join(" → ")),
      [],
    );
  });

  it("the checks fail on an upward import and on a circle (so they can fail)", () => {
    const bad = new Map([
      ["config/a.ts", ["render/b.ts"]],
      ["render/b.ts", ["config/a.ts"]],
    ]);
    assert.deepEqual(
      cycles(bad).map((c) => c.join(" → ")),
      ["config/a.ts → render/b.ts → config/a.ts"],
    );
    assert.deepEqual(upwardImports(bad), ["config/a.ts → render/b.ts"]);
    assert.deepEqual(upwardImports(new Map([["policies/p.ts", ["components/c.ts"]]])), [
      "policies/p.ts → components/c.ts",
    ]);
  });
});
