import * as assert from "assert";
import { parsePlatform } from "../../config/validate";
import { planPlatform } from "../../plan";
import { renderDot, renderReport, SECTIONS } from "../../report";
import { loadStackConfig } from "../harness/stacks";
import { node, platform, vm } from "../fixtures/configs";

/** Headings, tables and the mermaid block of a report, for structural comparison. */
function parseReport(md: string) {
  const lines = md.split("\n");
  const headings = lines.filter((l) => /^#{1,3} /.test(l));
  const start = lines.indexOf("```mermaid");
  const end = lines.indexOf("```", start + 1);
  const mermaid = lines.slice(start + 1, end);
  const tables = new Map<string, string[][]>();
  let current: string | undefined;
  for (const l of lines) {
    if (/^#{2,3} /.test(l)) current = l.replace(/^#+ /, "");
    else if (current && l.startsWith("| ") && !/^\| -/.test(l)) {
      const cells = l
        .slice(2, -2)
        .split(" | ")
        .map((c) => c.trim());
      tables.set(current, [...(tables.get(current) ?? []), cells]);
    }
  }
  return { headings, mermaid, tables, lines };
}

function mermaidGraph(lines: string[]) {
  const vertices = new Map<string, string>();
  const edges: string[] = [];
  for (const l of lines) {
    const e = /^ {2}(\w+) -->(?:\|"([^"]*)"\|)? (\w+)$/.exec(l);
    if (e) {
      edges.push(`${e[1]}>${e[3]}${e[2] ? `|${e[2]}` : ""}`);
      continue;
    }
    const v = /^ {2}(\w+)[[({]+"([^"]*)"/.exec(l);
    if (v) vertices.set(v[1], v[2].split("<br/>")[0]);
  }
  return { vertices, edges };
}

function dotGraph(text: string) {
  const vertices = new Map<string, string>();
  const edges: string[] = [];
  for (const l of text.split("\n")) {
    const e = /^ {2}(\w+) -> (\w+)(?: \[label="([^"]*)"\])?;$/.exec(l);
    if (e) {
      edges.push(`${e[1]}>${e[2]}${e[3] ? `|${e[3]}` : ""}`);
      continue;
    }
    const v = /^ {2}(\w+) \[label="((?:[^"\\]|\\.)*)"/.exec(l);
    if (v) vertices.set(v[1], v[2].split("\\n")[0]);
  }
  return { vertices, edges };
}

describe("report: kubecon-demo", () => {
  const model = parsePlatform(loadStackConfig("kubecon-demo"));
  const plan = planPlatform(model);
  const md = renderReport("kubecon-demo", model, plan, { svg: "kubecon-demo.svg" });
  const r = parseReport(md);

  it("has its sections in order", () => {
    assert.deepStrictEqual(r.headings, [
      "# Preflight report: stack `kubecon-demo`",
      `## ${SECTIONS.topology}`,
      `## ${SECTIONS.capacity}`,
      `### ${SECTIONS.pools}`,
      `### ${SECTIONS.nodes}`,
      `## ${SECTIONS.placement}`,
      `## ${SECTIONS.warnings}`,
      `## ${SECTIONS.errors}`,
    ]);
    assert.ok(r.lines.includes("- Verdict: **feasible**"));
    assert.ok(r.lines.includes("Offline rendering (Graphviz): [kubecon-demo.svg](kubecon-demo.svg)"));
  });

  it("draws nodes → PFs → pools → networks → VMs in Mermaid", () => {
    assert.strictEqual(r.mermaid[0], "flowchart LR");
    const g = mermaidGraph(r.mermaid);
    assert.deepStrictEqual(Object.fromEntries(g.vertices), {
      node_0: "k8s-node1",
      pf_0_0: "0000:02:00.0",
      pf_0_1: "0000:02:00.1",
      pf_0_2: "0000:02:00.2",
      pf_0_3: "0000:02:00.3",
      pool_0: "sriov_net_A",
      pool_1: "sriov_net_B",
      net_0: "default/sriov-net",
      vm_0: "default/pbx",
      vm_1: "default/sipp",
    });
    assert.deepStrictEqual(g.edges.sort(), [
      "net_0>vm_0",
      "net_0>vm_1",
      "node_0>pf_0_0",
      "node_0>pf_0_1",
      "node_0>pf_0_2",
      "node_0>pf_0_3",
      "pf_0_0>pool_0|VFs 0-7",
      "pf_0_1>pool_1|VFs 0-7",
      "pf_0_2>pool_0|VFs 0-7",
      "pf_0_3>pool_1|VFs 0-7",
      "pool_0>net_0",
    ]);
  });

  it("renders the same graph as DOT", () => {
    const m = mermaidGraph(r.mermaid);
    const d = dotGraph(renderDot(model, plan));
    assert.deepStrictEqual(d.vertices, m.vertices);
    assert.deepStrictEqual(d.edges.sort(), m.edges.sort());
  });

  it("has a capacity row per pool and node plus a total per pool", () => {
    assert.deepStrictEqual(r.tables.get(SECTIONS.pools), [
      ["pool", "resource", "node", "supplied", "requested", "free"],
      ["sriov_net_A", "intel.com/sriov_net_A", "k8s-node1", "16", "2", "14"],
      ["sriov_net_A", "intel.com/sriov_net_A", "**all nodes**", "16", "2", "14"],
      ["sriov_net_B", "intel.com/sriov_net_B", "k8s-node1", "16", "0", "16"],
      ["sriov_net_B", "intel.com/sriov_net_B", "**all nodes**", "16", "0", "16"],
    ]);
    assert.deepStrictEqual(r.tables.get(SECTIONS.nodes), [
      ["node", "dedicated CPUs", "1Gi hugepages", "2Mi hugepages"],
      ["k8s-node1", "16 / 6 / 10", "16 / 4 / 12", "0 / 0 / 0"],
    ]);
  });

  it("has a placement row per VM", () => {
    assert.deepStrictEqual(r.tables.get(SECTIONS.placement), [
      ["VM", "node", "VFs", "dedicated CPUs", "hugepages", "reason"],
      ["default/pbx", "k8s-node1", "1×sriov_net_A", "3", "2×1Gi", ""],
      ["default/sipp", "k8s-node1", "1×sriov_net_A", "3", "2×1Gi", ""],
    ]);
  });

  it("says there are no warnings or errors", () => {
    const at = (h: string) => r.lines[r.lines.indexOf(`## ${h}`) + 2];
    assert.strictEqual(at(SECTIONS.warnings), "None.");
    assert.strictEqual(at(SECTIONS.errors), "None.");
  });
});

describe("report: problems and large fleets", () => {
  it("lists every warning and error of an infeasible plan", () => {
    const raw = platform({
      pools: [{ name: "sriov_net_A" }, { name: "idle" }],
      vms: Array.from({ length: 10 }, (_, i) => vm(`v${i}`, ["net-a"])),
    });
    const model = parsePlatform(raw);
    const plan = planPlatform(model);
    const md = renderReport("tiny", model, plan);
    assert.match(md, /- Verdict: \*\*not feasible\*\*/);
    assert.match(
      md,
      /- capacity: kubevirt-sriov:platform\.pools\[0\]: pool "sriov_net_A": VMs request 10 VFs but the nodes supply 8 — add VFs/,
    );
    assert.match(md, /- kubevirt-sriov:platform\.pools\[1\]: pool "idle" has no VFs on any node/);
    assert.match(md, /\| default\/v9 \| — \(not placed\) \|/);
    assert.ok(!md.includes("Offline rendering"));
    for (const w of plan.warnings) assert.ok(md.includes(`- ${w}`));
  });

  it("folds nodes and VMs past the limits into summary vertices", () => {
    const raw = platform({
      nodes: Array.from({ length: 5 }, (_, i) => node(`n${i}`)),
      vms: Array.from({ length: 4 }, (_, i) => vm(`v${i}`, ["net-a"])),
    });
    const model = parsePlatform(raw);
    const plan = planPlatform(model);
    const g = dotGraph(renderDot(model, plan, { maxNodes: 2, maxVms: 1 }));
    assert.deepStrictEqual(
      [...g.vertices.keys()].filter((k) => k.startsWith("node_")),
      ["node_0", "node_1", "node_more"],
    );
    assert.strictEqual(g.vertices.get("node_more"), "3 more nodes");
    assert.strictEqual(g.vertices.get("vm_more"), "3 more VMs");
    assert.ok(g.edges.includes("node_more>pool_0"));
    assert.ok(g.edges.includes("net_0>vm_more"));
  });

  it("escapes labels for Mermaid, Markdown tables and DOT", () => {
    const raw = platform({ vms: [vm("pbx", ["net-a"], { nodeSelector: { weird: "a" } })] });
    const model = parsePlatform(raw);
    // The schema refuses such a selector (not Kubernetes label syntax); the renderers escape
    // whatever reaches them anyway.
    model.vms[0].config.nodeSelector = { 'we"ird': "a|b" };
    const plan = planPlatform(model);
    const md = renderReport('x"y', model, plan);
    assert.match(md, /no node matches the node selector \{we"ird=a\\\|b\}/);
    const dot = renderDot(model, plan, undefined, 'stack "quoted"');
    assert.match(dot, /label="stack \\"quoted\\""/);
  });
});
