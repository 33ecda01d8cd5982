// A fleet too large for the stack config (PULUMI_CONFIG is capped at 128 KiB) lives in a file the
// stack names with `kubevirt-sriov:platformFile`: the program reads it and builds exactly what the
// same config in the stack file builds; problems are reported under the file's name.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../../config/errors";
import { platformSource } from "../../config/platformFile";
import { CONFIG_ROOT } from "../../config/schema";
import { parsePlatform } from "../../config/validate";
import { planPlatform } from "../../plan";
import { runReport } from "../../report/cli";
import { platform } from "../fixtures/configs";
import { LAB_MANIFEST, labManifestPin, runProgram, SSH_KEY_CONFIG } from "../harness/program";
import { loadStackConfig, ROOT } from "../harness/stacks";

/** kubecon-demo with the lab's pinned operator manifest by absolute path (the project dir is a temp dir). */
function demo(): Record<string, any> {
  const p = loadStackConfig("kubecon-demo");
  p.kubevirt = {
    ...(p.kubevirt ?? {}),
    operatorManifest: { ...labManifestPin(), file: path.join(ROOT, LAB_MANIFEST) },
  };
  return p;
}

function problemsOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  assert.fail("no ConfigError");
}

describe("the platform from a file the stack names (kubevirt-sriov:platformFile)", function () {
  this.timeout(300_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-platform-file-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads the file relative to the project directory; without one, the stack's key as before", () => {
    fs.mkdirSync(path.join(dir, "fleets"));
    fs.writeFileSync(path.join(dir, "fleets", "prod.yaml"), yaml.dump({ nodes: [{ name: "a" }] }));
    assert.deepEqual(platformSource(undefined, "fleets/prod.yaml", "prod", dir), {
      raw: { nodes: [{ name: "a" }] },
      root: "fleets/prod.yaml",
      fromFile: true,
    });
    assert.deepEqual(platformSource('{"nodes":[]}', undefined, "prod", dir), {
      raw: { nodes: [] },
      root: CONFIG_ROOT,
      fromFile: false,
    });
  });

  it("refuses both keys at once, a file it cannot read or parse, and one that is not a map, each with its cure", () => {
    fs.writeFileSync(path.join(dir, "f.yaml"), "nodes: []\n");
    assert.match(
      problemsOf(() => platformSource("{}", "f.yaml", "prod", dir)),
      /kubevirt-sriov:platformFile: names "f\.yaml", but the stack sets kubevirt-sriov:platform too, .* — keep one: remove kubevirt-sriov:platform from stacks\/Pulumi\.prod\.yaml, or remove kubevirt-sriov:platformFile/,
    );
    assert.match(
      problemsOf(() => platformSource(undefined, "missing.yaml", "prod", dir)),
      /kubevirt-sriov:platformFile: cannot read .*missing\.yaml: ENOENT.* — point it at a YAML file holding the platform map/,
    );
    fs.writeFileSync(path.join(dir, "bad.yaml"), "nodes: [\n");
    assert.match(
      problemsOf(() => platformSource(undefined, "bad.yaml", "prod", dir)),
      /kubevirt-sriov:platformFile: bad\.yaml is not valid YAML: .* — fix the YAML/,
    );
    fs.writeFileSync(path.join(dir, "list.yaml"), "- a\n");
    assert.match(
      problemsOf(() => platformSource(undefined, "list.yaml", "prod", dir)),
      /kubevirt-sriov:platformFile: list\.yaml holds a list, not the platform map — write the platform's keys/,
    );
  });

  it("refuses an encrypted value in the file, by its path (only the stack file's values can be decrypted)", () => {
    fs.writeFileSync(
      path.join(dir, "f.yaml"),
      yaml.dump({ vms: [{ name: "pbx", custom: { userData: { secure: "v1:abc" } } }] }),
    );
    assert.match(
      problemsOf(() => platformSource(undefined, "f.yaml", "prod", dir)),
      /secret values in a platform file \(1 problem\):\n {2}- f\.yaml\.vms\[0\]\.custom\.userData: is encrypted \(\{secure: …\}\), but only values in the stack file can be decrypted — keep the platform in the stack file/,
    );
  });

  it("the program builds from the file exactly what it builds from the stack's key", () => {
    fs.writeFileSync(path.join(dir, "fleet.yaml"), yaml.dump(demo()));
    const inline = runProgram({ stack: "demo", platform: demo(), config: SSH_KEY_CONFIG, projectDir: dir });
    const fromFile = runProgram({
      stack: "demo",
      platform: undefined,
      config: { ...SSH_KEY_CONFIG, platformFile: { value: "fleet.yaml", secret: false } },
      projectDir: dir,
    });
    assert.equal(inline.error, undefined, inline.error?.message);
    assert.equal(fromFile.error, undefined, fromFile.error?.message);
    const urns = (r: typeof inline) => r.registrations.map((x) => x.engineUrn).sort();
    assert.ok(urns(inline).length > 20, "the stack registers its resources");
    assert.deepEqual(urns(fromFile), urns(inline));
    assert.deepEqual(fromFile.outputs, inline.outputs);
  });

  it("the program reports a problem in the file under the file's name, and registers nothing", () => {
    const p = demo();
    p.nodes[0].ssh.host = "";
    fs.writeFileSync(path.join(dir, "fleet.yaml"), yaml.dump(p));
    const r = runProgram({
      stack: "demo",
      platform: undefined,
      config: { ...SSH_KEY_CONFIG, platformFile: { value: "fleet.yaml", secret: false } },
      projectDir: dir,
    });
    assert.match(r.error?.message ?? "", /\n {2}- fleet\.yaml\.nodes\[0\]\.ssh\.host: /);
    assert.deepEqual(
      r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"),
      [],
    );
  });

  it("the planner reports under the file's name too", () => {
    const raw = platform({ pools: [{ name: "sriov_net_A" }, { name: "empty" }] });
    const plan = planPlatform(parsePlatform(raw, "fleets/prod.yaml"));
    assert.deepEqual(
      plan.warnings.map((w) => w.split(":")[0]),
      ["fleets/prod.yaml.pools[1]"],
    );
    assert.match(planPlatform(parsePlatform(raw)).warnings[0], /^kubevirt-sriov:platform\.pools\[1\]: /);
  });

  it("npm run report follows the stack's platform file", () => {
    fs.mkdirSync(path.join(dir, "stacks"));
    fs.writeFileSync(path.join(dir, "fleet.yaml"), yaml.dump(loadStackConfig("kubecon-demo")));
    fs.writeFileSync(
      path.join(dir, "stacks", "Pulumi.demo.yaml"),
      yaml.dump({ config: { "kubevirt-sriov:platformFile": "fleet.yaml" } }),
    );
    const lines: string[] = [];
    const run = runReport("demo", { root: dir, log: (l) => lines.push(l), dot: "/nonexistent/dot" });
    assert.equal(run.plan.feasible, true);
    assert.match(fs.readFileSync(run.markdownPath, "utf8"), /\| default\/pbx \| k8s-node1 \|/);
  });
});
