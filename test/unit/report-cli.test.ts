import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../../config/errors";
import { CONFIG_ENV_LIMIT, pulumiConfigEnvBytes } from "../../config/platformFile";
import { listStacks, ReportCliError, runReport } from "../../report/cli";
import { ROOT } from "../harness/stacks";

describe("report CLI", () => {
  let root: string;
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "report-cli-"));
    fs.mkdirSync(path.join(root, "stacks"));
    fs.copyFileSync(
      path.join(ROOT, "stacks", "Pulumi.kubecon-demo.yaml"),
      path.join(root, "stacks", "Pulumi.kubecon-demo.yaml"),
    );
    lines.length = 0;
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("refuses an unknown stack and lists the stacks that exist", () => {
    fs.writeFileSync(path.join(root, "stacks", "Pulumi.prod-east.yaml"), "config: {}\n");
    assert.deepStrictEqual(listStacks(path.join(root, "stacks")), ["kubecon-demo", "prod-east"]);
    assert.throws(
      () => runReport("kubecon", { root, log }),
      (e: unknown) =>
        e instanceof ReportCliError &&
        e.message ===
          'unknown stack "kubecon": no stacks/Pulumi.kubecon.yaml — stacks that exist: kubecon-demo, prod-east',
    );
    assert.throws(() => runReport("../stacks/Pulumi.kubecon-demo", { root, log }), ReportCliError);
  });

  it("measures the config as Pulumi's Node.js host passes it (PULUMI_CONFIG: every key, structured values as JSON text)", () => {
    const config = { "kubevirt-sriov:platform": { a: [1, "x"] }, "kubevirt-sriov:note": "hi" };
    const env = 'PULUMI_CONFIG={"kubevirt-sriov:platform":"{\\"a\\":[1,\\"x\\"]}","kubevirt-sriov:note":"hi"}';
    assert.strictEqual(pulumiConfigEnvBytes(config), Buffer.byteLength(env) + 1); // and its NUL
  });

  it("warns when the stack config nears the 128 KiB Pulumi can pass the program, and refuses it past that", () => {
    const demo = path.join(root, "stacks", "Pulumi.kubecon-demo.yaml");
    const text = fs.readFileSync(demo, "utf8");
    const padded = (bytes: number) =>
      text.replace(/^config:\n/m, `config:\n  kubevirt-sriov:note: "${"x".repeat(bytes)}"\n`);
    fs.writeFileSync(demo, padded(CONFIG_ENV_LIMIT - 20_000));
    runReport("kubecon-demo", { root, log, dot: "/nonexistent/dot" });
    assert.ok(
      lines.some((l) => /^warning: the stack config takes \d+ of the 131072 bytes/.test(l)),
      lines.join("\n"),
    );
    fs.writeFileSync(demo, padded(CONFIG_ENV_LIMIT));
    assert.throws(
      () => runReport("kubecon-demo", { root, log, dot: "/nonexistent/dot" }),
      (e: unknown) =>
        e instanceof ReportCliError &&
        /stacks\/Pulumi\.kubecon-demo\.yaml: the stack config takes \d+ bytes as PULUMI_CONFIG, over the 131072 bytes .* \("argument list too long", pulumi\/pulumi#8680\) — move the platform into a file the stack names \(pulumi config set platformFile fleets\/kubecon-demo\.yaml\)/.test(
          e.message,
        ),
    );
    lines.length = 0;
    fs.writeFileSync(demo, text);
    runReport("kubecon-demo", { root, log, dot: "/nonexistent/dot" });
    assert.deepStrictEqual(
      lines.filter((l) => l.startsWith("warning:")),
      [],
    );
  });

  it("says which key is missing, and passes config errors through", () => {
    fs.writeFileSync(path.join(root, "stacks", "Pulumi.empty.yaml"), "config: {}\n");
    assert.throws(
      () => runReport("empty", { root, log }),
      /stacks\/Pulumi\.empty\.yaml has no config key "kubevirt-sriov:platform"/,
    );
    fs.writeFileSync(
      path.join(root, "stacks", "Pulumi.bad.yaml"),
      "config:\n  kubevirt-sriov:platform:\n    nodes: []\n    pools: []\n",
    );
    assert.throws(() => runReport("bad", { root, log }), ConfigError);
  });

  it("writes the Markdown without an SVG when dot is missing, and says so", () => {
    const run = runReport("kubecon-demo", { root, log, dot: path.join(root, "no-such-dot") });
    assert.strictEqual(run.svgPath, undefined);
    assert.ok(!fs.existsSync(path.join(root, "reports", "kubecon-demo.svg")));
    const md = fs.readFileSync(path.join(root, "reports", "kubecon-demo.md"), "utf8");
    assert.match(md, /```mermaid\nflowchart LR/);
    assert.ok(!md.includes("kubecon-demo.svg"));
    assert.match(
      lines[0],
      /Graphviz ".*no-such-dot" not found: skipping reports\/kubecon-demo\.svg \(install it with \.ci\/install-report-deps\.sh\)/,
    );
  });

  it("renders the SVG with Graphviz and links it", () => {
    assert.ok(!spawnSync("dot", ["-V"]).error, "Graphviz dot is missing: run bash .ci/install-report-deps.sh");
    const run = runReport("kubecon-demo", { root, log });
    assert.strictEqual(run.plan.feasible, true);
    // Graphviz writes '-' as an entity.
    const svg = fs.readFileSync(path.join(root, "reports", "kubecon-demo.svg"), "utf8").replace(/&#45;/g, "-");
    assert.match(svg, /<svg /);
    for (const label of ["k8s-node1", "0000:02:00.3", "sriov_net_B", "default/sriov-net", "default/sipp"])
      assert.ok(svg.includes(label), label);
    assert.match(fs.readFileSync(run.markdownPath, "utf8"), /\[kubecon-demo\.svg\]\(kubecon-demo\.svg\)/);
    assert.match(
      lines.at(-1) ?? "",
      /wrote reports\/kubecon-demo\.md and reports\/kubecon-demo\.svg: feasible, 0 warnings/,
    );
  });

  it("keeps the checked-in kubecon-demo report current", () => {
    runReport("kubecon-demo", { root, log, dot: path.join(root, "no-such-dot") });
    const fresh = fs.readFileSync(path.join(root, "reports", "kubecon-demo.md"), "utf8");
    const kept = fs.readFileSync(path.join(ROOT, "reports", "kubecon-demo.md"), "utf8");
    // The kept one links its SVG; otherwise they are the same.
    assert.strictEqual(
      kept.replace("Offline rendering (Graphviz): [kubecon-demo.svg](kubecon-demo.svg)\n\n", ""),
      fresh,
      "run `npm run report -- kubecon-demo`",
    );
  });
});
