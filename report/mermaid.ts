// Mermaid `flowchart LR` text of the topology (GitHub renders it inline in Markdown).
import type { Topology, VertexKind } from "./topology";

/** Mermaid entity codes keep quotes and markup characters from closing the label. */
function escapeLabel(text: string): string {
  return text.replace(/&/g, "#amp;").replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;");
}

const SHAPES: Record<VertexKind, [string, string]> = {
  node: ["[", "]"],
  pf: ["([", "])"],
  pool: ["[(", ")]"],
  network: ["{{", "}}"],
  vm: ["(", ")"],
};

/** Class names kept clear of Mermaid keywords. */
const CLASSES: Record<VertexKind, [string, string]> = {
  node: ["k8sNode", "fill:#eef,stroke:#447"],
  pf: ["physFn", "fill:#efe,stroke:#474"],
  pool: ["vfPool", "fill:#ffe,stroke:#774"],
  network: ["sriovNet", "fill:#fef,stroke:#747"],
  vm: ["voipVm", "fill:#fee,stroke:#744"],
};

export function renderMermaid(topology: Topology): string {
  const out = ["flowchart LR"];
  for (const v of topology.vertices) {
    const [open, close] = SHAPES[v.kind];
    out.push(`  ${v.id}${open}"${v.lines.map(escapeLabel).join("<br/>")}"${close}`);
  }
  for (const e of topology.edges) {
    out.push(e.label === undefined ? `  ${e.from} --> ${e.to}` : `  ${e.from} -->|"${escapeLabel(e.label)}"| ${e.to}`);
  }
  for (const kind of Object.keys(SHAPES) as VertexKind[]) {
    const ids = topology.vertices.filter((v) => v.kind === kind).map((v) => v.id);
    if (ids.length > 0) out.push(`  class ${ids.join(",")} ${CLASSES[kind][0]}`);
  }
  for (const [name, style] of Object.values(CLASSES)) out.push(`  classDef ${name} ${style}`);
  return out.join("\n");
}
