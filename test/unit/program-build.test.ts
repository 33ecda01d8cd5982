// The engine's entry point (main.js) runs the compiled program in bin/ only when it was built from
// exactly the current sources (build.js), and compiles the TypeScript on the fly otherwise. Both
// paths register the same resources. Run on a copy of the program's sources, so the repository's
// own bin/ is left alone.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { build, chooseProgram, sourceFiles, sourcesDigest, STAMP } from "../../build";
import { multiNodeConfig } from "../fixtures/stacks";
import { runProgram, SSH_KEY_CONFIG, withLabManifest } from "../harness/program";
import type { ProgramResult } from "../harness/runProgram";
import { ROOT } from "../harness/stacks";

/** A copy of everything the program is built from, with the repository's node_modules linked in. */
function copyOfSources(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-build-"));
  for (const f of [...sourceFiles(ROOT), "main.js", "package.json"]) {
    fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

function runVia(root: string, env: Record<string, string> = {}): ProgramResult {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const cfg = withLabManifest(multiNodeConfig());
    const r = runProgram({ stack: "build", platform: cfg, config: SSH_KEY_CONFIG, entry: path.join(root, "main.js") });
    assert.equal(r.error, undefined, r.error?.message);
    return r;
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

const urnsAndInputs = (r: ProgramResult) =>
  r.registrations.map((x) => x.urn).join("\n") + JSON.stringify(r.resources.map((x) => x.inputs));

describe("program build: main.js runs bin/ only when it was built from these sources", function () {
  this.timeout(300_000);
  let root: string;
  before(() => {
    root = copyOfSources();
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it("without a build it compiles on the fly; npm run build's step makes a current, stamped bin/", () => {
    assert.deepEqual(chooseProgram(root, {}), { kind: "source", reason: "no build in bin/ (npm run build makes one)" });
    assert.equal(build(root), true);
    assert.equal(fs.readFileSync(path.join(root, STAMP), "utf8").trim(), sourcesDigest(root));
    assert.ok(fs.existsSync(path.join(root, "bin", "node", "sriov-node.sh")), "the node scripts go beside the program");
    assert.equal(chooseProgram(root, {}).kind, "compiled");
    assert.equal(build(root), false, "a current build is not rebuilt");
    assert.deepEqual(chooseProgram(root, { KUBEVIRT_SRIOV_PROGRAM: "source" }), {
      kind: "source",
      reason: "KUBEVIRT_SRIOV_PROGRAM=source",
    });
  });

  it("both paths register the same resources with the same inputs", () => {
    build(root);
    assert.equal(chooseProgram(root, {}).kind, "compiled");
    const compiled = runVia(root);
    const source = runVia(root, { KUBEVIRT_SRIOV_PROGRAM: "source" });
    assert.ok(compiled.registrations.length > 20, `${compiled.registrations.length} registrations`);
    assert.equal(urnsAndInputs(compiled), urnsAndInputs(source));
  });

  it("any change to a source, the node script included, makes bin/ stale: it is not run", () => {
    for (const f of ["render/nodeState.ts", "node/sriov-node.sh", "tsconfig.pulumi.json"]) {
      const file = path.join(root, f);
      const before = fs.readFileSync(file);
      fs.appendFileSync(file, "\n");
      assert.deepEqual(
        chooseProgram(root, {}),
        { kind: "source", reason: "bin/ was built from other sources (npm run build refreshes it)" },
        f,
      );
      fs.writeFileSync(file, before);
      assert.equal(chooseProgram(root, {}).kind, "compiled", f);
    }
  });

  it("a build that fails keeps the old bin/ unrun and leaves nothing half-built", () => {
    const file = path.join(root, "render", "outputs.ts");
    const before = fs.readFileSync(file);
    fs.appendFileSync(file, "\nexport const = ;\n");
    try {
      assert.throws(() => build(root), /tsc -p tsconfig.pulumi.json failed/);
      assert.equal(chooseProgram(root, {}).kind, "source");
      assert.deepEqual(
        fs.readdirSync(root).filter((f) => f.startsWith("bin.")),
        [],
      );
    } finally {
      fs.writeFileSync(file, before);
    }
    assert.equal(chooseProgram(root, {}).kind, "compiled", "the old build matches the restored sources");
  });
});
