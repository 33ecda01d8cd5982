// Graphviz DOT text of the same topology, for an offline SVG (`dot -Tsvg`).
import type { PlatformModel } from "../config/model";
import type { Plan } from "../plan/types";
import { buildTopology, Topology, TopologyLimits, VertexKind } from "./topology";

function quote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

const STYLE: Record<VertexKind, string> = {
  node: 'shape=box, style=filled, fillcolor="#eeeeff"',
  pf: 'shape=box, style="rounded,filled", fillcolor="#eeffee"',
  pool: 'shape=cylinder, style=filled, fillcolor="#ffffee"',
  network: 'shape=hexagon, style=filled, fillcolor="#ffeeff"',
  vm: 'shape=box, style="rounded,filled", fillcolor="#ffeeee"',
};

export function topologyToDot(topology: Topology, title: string): string {
  const out = [
    "digraph topology {",
    "  rankdir=LR;",
    `  label=${quote(title)}; labelloc=t; fontname="Helvetica";`,
    '  node [fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  for (const v of topology.vertices) {
    out.push(`  ${v.id} [label=${quote(v.lines.join("\n")).replace(/\n/g, "\\n")}, ${STYLE[v.kind]}];`);
  }
  for (const e of topology.edges) {
    out.push(e.label === undefined ? `  ${e.from} -> ${e.to};` : `  ${e.from} -> ${e.to} [label=${quote(e.label)}];`);
  }
  out.push("}");
  return out.join("\n") + "\n";
}

export function renderDot(
  model: PlatformModel,
  plan: Plan,
  limits?: TopologyLimits,
  title = "kubevirt-sriov topology",
): string {
  return topologyToDot(buildTopology(model, plan, limits), title);
}
