// The platform as a graph — nodes → PFs → pools → networks → VMs — shared by the Mermaid and
// the Graphviz renderings so both show the same thing. Large fleets are folded: past a limit,
// the remaining nodes (and VMs) become one summary vertex each, so the picture stays readable.
import type { PlatformModel } from "../config/model";
import type { Plan } from "../plan/types";

export type VertexKind = "node" | "pf" | "pool" | "network" | "vm";

export interface Vertex {
  /** Safe in Mermaid and DOT: letters, digits and '_' only. */
  id: string;
  kind: VertexKind;
  /** Lines of the label, plain text. */
  lines: string[];
}

export interface Edge {
  from: string;
  to: string;
  label?: string;
}

export interface Topology {
  vertices: Vertex[];
  edges: Edge[];
}

export interface TopologyLimits {
  /** Kubernetes nodes drawn one by one; the rest fold into one vertex. */
  maxNodes: number;
  /** VMs drawn one by one; the rest fold into one vertex. */
  maxVms: number;
}

export const DEFAULT_LIMITS: TopologyLimits = { maxNodes: 24, maxVms: 60 };

export function buildTopology(model: PlatformModel, plan: Plan, limits: TopologyLimits = DEFAULT_LIMITS): Topology {
  const vertices: Vertex[] = [];
  const edges: Edge[] = [];
  const edgeKeys = new Set<string>();
  const addEdge = (from: string, to: string, label?: string) => {
    const key = `${from}>${to}|${label ?? ""}`;
    if (edgeKeys.has(key)) return;
    edgeKeys.add(key);
    edges.push(label === undefined ? { from, to } : { from, to, label });
  };

  const poolId = new Map<string, string>();
  const poolPlan = new Map(plan.pools.map((p) => [p.pool, p]));
  [...model.pools.keys()].forEach((name, i) => poolId.set(name, `pool_${i}`));

  // Nodes and their PFs; the folded rest links straight to the pools it feeds.
  const shown = model.nodes.slice(0, limits.maxNodes);
  const folded = model.nodes.slice(limits.maxNodes);
  shown.forEach((node, ni) => {
    const nid = `node_${ni}`;
    const cap = node.config.capacity;
    const lines = [
      node.source.profile !== undefined ? `${node.config.name} (profile ${node.source.profile})` : node.config.name,
    ];
    if (cap.dedicatedCpus > 0 || cap.hugepages1Gi > 0 || cap.hugepages2Mi > 0) {
      lines.push(`${cap.dedicatedCpus} dedicated CPUs, ${cap.hugepages1Gi}×1Gi + ${cap.hugepages2Mi}×2Mi hugepages`);
    }
    vertices.push({ id: nid, kind: "node", lines });
    node.pfs.forEach((pf, pi) => {
      const id = `pf_${ni}_${pi}`;
      const facts = [`${pf.config.numVfs} VFs`, pf.config.driver];
      if (pf.config.numaNode !== undefined) facts.push(`NUMA ${pf.config.numaNode}`);
      if (pf.config.mtu !== undefined) facts.push(`MTU ${pf.config.mtu}`);
      vertices.push({ id, kind: "pf", lines: [pf.key, facts.join(", ")] });
      addEdge(nid, id);
      for (const g of pf.groups) {
        const to = poolId.get(g.pool);
        if (to) addEdge(id, to, g.first === g.last ? `VF ${g.first}` : `VFs ${g.first}-${g.last}`);
      }
    });
  });
  if (folded.length > 0) {
    const pfs = folded.reduce((n, node) => n + node.pfs.length, 0);
    const profiles = [...new Set(folded.map((n) => n.source.profile).filter((p) => p !== undefined))];
    const more = [`${folded.length} more nodes`, `${pfs} PFs`];
    if (profiles.length > 0) more.push(`profiles ${profiles.join(", ")}`);
    vertices.push({ id: "node_more", kind: "node", lines: more });
    for (const node of folded) {
      for (const pf of node.pfs)
        for (const g of pf.groups) {
          const to = poolId.get(g.pool);
          if (to) addEdge("node_more", to);
        }
    }
  }

  for (const [name, pool] of model.pools) {
    const p = poolPlan.get(name);
    vertices.push({
      id: poolId.get(name) as string,
      kind: "pool",
      lines: [name, pool.resource, `supply ${pool.supply}, demand ${p?.demand ?? 0}`],
    });
  }

  const netId = new Map<string, string>();
  [...model.networks.values()].forEach((net, i) => {
    const id = `net_${i}`;
    netId.set(net.ref, id);
    const facts = [`VLAN ${net.config.vlan}`];
    if (net.config.mtu !== undefined) facts.push(`MTU ${net.config.mtu}`);
    if (net.config.subnet !== undefined) facts.push(net.config.subnet);
    vertices.push({ id, kind: "network", lines: [net.ref, facts.join(", ")] });
    addEdge(poolId.get(net.pool.config.name) as string, id);
  });

  const nodeOf = new Map(plan.placement.map((p) => [p.vm, p.node]));
  const shownVms = model.vms.slice(0, limits.maxVms);
  const foldedVms = model.vms.slice(limits.maxVms);
  shownVms.forEach((vm, i) => {
    const id = `vm_${i}`;
    const node = nodeOf.get(vm.ref);
    vertices.push({
      id,
      kind: "vm",
      lines: [
        vm.ref,
        `${vm.config.role}, ${vm.config.cpus} vCPU, ${vm.config.memory}`,
        node ? `on ${node}` : "not placed",
      ],
    });
    for (const itf of vm.interfaces) {
      const from = netId.get(itf.network.ref);
      if (from) addEdge(from, id);
    }
  });
  if (foldedVms.length > 0) {
    vertices.push({ id: "vm_more", kind: "vm", lines: [`${foldedVms.length} more VMs`] });
    for (const vm of foldedVms) {
      for (const itf of vm.interfaces) {
        const from = netId.get(itf.network.ref);
        if (from) addEdge(from, "vm_more");
      }
    }
  }
  return { vertices, edges };
}
