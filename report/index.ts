// The preflight report: Markdown with a Mermaid topology, and the same graph as Graphviz DOT.
export { renderReport, SECTIONS } from "./markdown";
export type { ReportOptions } from "./markdown";
export { renderDot, topologyToDot } from "./dot";
export { renderMermaid } from "./mermaid";
export { buildTopology, DEFAULT_LIMITS } from "./topology";
export type { Edge, Topology, TopologyLimits, Vertex, VertexKind } from "./topology";
