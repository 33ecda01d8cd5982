// Deterministic first-fit-decreasing placement of VMs onto nodes.
//
// VMs are taken by decreasing demand (VFs, then dedicated CPUs, then hugepage memory; ties by
// ref) and each goes to the first node, in config order, that matches its node selector and
// has room in every pool it needs, in dedicated CPUs and in hugepages of its page size.
// Everything is indexed up front: a segment tree per distinct node selector finds the first
// node with room, and VMs of a shape that already failed fail at once (free amounts only
// shrink), so a fleet of thousands of nodes and VMs plans in milliseconds.
import { labelsAfterUp } from "../config/labels";
import type { PlatformModel } from "../config/model";
import { effectiveSelector, selectorKey, VmDemand, vmDemand } from "./demand";
import { MaxTree, Need } from "./maxTree";
import type { Placement } from "./types";

/** Resource dimensions: one per pool (in config order), then CPUs and hugepages. */
export interface Dimensions {
  count: number;
  pool: Map<string, number>;
  poolNames: string[];
  cpu: number;
  hugepages1Gi: number;
  hugepages2Mi: number;
}

export interface PlacementResult {
  dims: Dimensions;
  /** Per VM (model order): its demand. */
  demands: VmDemand[];
  /** Per VM (model order): placement. */
  placement: Placement[];
  /** `supply[node * dims.count + dim]`. */
  supply: Float64Array;
  /** Taken by placed VMs, same layout. */
  requested: Float64Array;
}

interface Group {
  selector: Record<string, string> | undefined;
  tree: MaxTree;
}

export function dimensionsOf(model: PlatformModel): Dimensions {
  const poolNames = [...model.pools.keys()];
  const pool = new Map(poolNames.map((p, i) => [p, i]));
  const p = poolNames.length;
  return { count: p + 3, pool, poolNames, cpu: p, hugepages1Gi: p + 1, hugepages2Mi: p + 2 };
}

/** The labels a node will have after `up`, the ones the program applies included. */
export function nodeLabels(model: PlatformModel, index: number): Record<string, string> {
  return labelsAfterUp(model.nodes[index].config);
}

function needsOf(d: VmDemand, dims: Dimensions): Need[] {
  const needs: Need[] = [];
  for (const [pool, amount] of d.vfs) needs.push({ dim: dims.pool.get(pool) as number, amount });
  if (d.dedicatedCpus > 0) needs.push({ dim: dims.cpu, amount: d.dedicatedCpus });
  if (d.hugepages1Gi > 0) needs.push({ dim: dims.hugepages1Gi, amount: d.hugepages1Gi });
  if (d.hugepages2Mi > 0) needs.push({ dim: dims.hugepages2Mi, amount: d.hugepages2Mi });
  return needs.sort((a, b) => a.dim - b.dim);
}

function describeDim(dims: Dimensions, dim: number): string {
  if (dim === dims.cpu) return "dedicated CPUs";
  if (dim === dims.hugepages1Gi) return "1Gi hugepages";
  if (dim === dims.hugepages2Mi) return "2Mi hugepages";
  return `VFs of pool "${dims.poolNames[dim]}"`;
}

function formatSelector(selector: Record<string, string>): string {
  const parts = Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`);
  return parts.length === 0 ? "{}" : `{${parts.join(", ")}}`;
}

/** Why no node of the group has room: which resource is short on how many nodes, and where the most is left. */
function explain(
  model: PlatformModel,
  dims: Dimensions,
  group: Group,
  needs: readonly Need[],
  free: Float64Array,
): string {
  if (group.selector === undefined)
    return "its nodeSelector contradicts kubevirt.workloads.nodeSelector, so no node qualifies";
  const members = group.tree.members;
  if (members.length === 0) return `no node matches the node selector ${formatSelector(group.selector)}`;
  const parts: string[] = [];
  let eachSomewhere = true;
  for (const n of needs) {
    let short = 0;
    let best = -1;
    let bestNode = -1;
    for (const node of members) {
      const f = free[node * dims.count + n.dim];
      if (f < n.amount) short++;
      if (f > best) {
        best = f;
        bestNode = node;
      }
    }
    if (best < n.amount) eachSomewhere = false;
    if (short === 0) continue;
    const where = short === members.length ? `all ${members.length}` : `${short} of ${members.length}`;
    parts.push(
      `${describeDim(dims, n.dim)} short on ${where} matching node${members.length === 1 ? "" : "s"} (needs ${n.amount}, most free ${best} on ${model.nodes[bestNode].config.name})`,
    );
  }
  if (parts.length === 0 || eachSomewhere)
    parts.push("each resource it needs is free on some matching node, but no single node has all of them");
  return parts.join("; ");
}

export function place(model: PlatformModel): PlacementResult {
  const dims = dimensionsOf(model);
  const n = model.nodes.length;
  const supply = new Float64Array(n * dims.count);
  model.nodes.forEach((node, i) => {
    const base = i * dims.count;
    const cap = node.config.capacity;
    supply[base + dims.cpu] = cap.dedicatedCpus;
    supply[base + dims.hugepages1Gi] = cap.hugepages1Gi;
    supply[base + dims.hugepages2Mi] = cap.hugepages2Mi;
  });
  for (const [name, pool] of model.pools) {
    const d = dims.pool.get(name) as number;
    model.nodes.forEach((node, i) => {
      supply[i * dims.count + d] = pool.supplyByNode.get(node.config.name) ?? 0;
    });
  }
  const free = Float64Array.from(supply);
  const requested = new Float64Array(n * dims.count);

  const labels = model.nodes.map((_, i) => nodeLabels(model, i));
  const workloads = model.config.kubevirt.workloads.nodeSelector;
  const groups = new Map<string, Group>();
  /** For each node: the trees it is a leaf of, with its position there. */
  const memberships: { tree: MaxTree; pos: number }[][] = model.nodes.map(() => []);
  const groupFor = (vmSelector: Record<string, string>): Group => {
    const selector = effectiveSelector(workloads, vmSelector);
    const key = selectorKey(selector);
    let g = groups.get(key);
    if (g) return g;
    const members: number[] = [];
    if (selector !== undefined) {
      const entries = Object.entries(selector);
      labels.forEach((l, i) => {
        if (entries.every(([k, v]) => l[k] === v)) members.push(i);
      });
    }
    const tree = new MaxTree(members, dims.count, free);
    members.forEach((node, pos) => memberships[node].push({ tree, pos }));
    g = { selector, tree };
    groups.set(key, g);
    return g;
  };

  const demands = model.vms.map(vmDemand);
  const order = model.vms.map((_, i) => i);
  order.sort((a, b) => {
    const x = demands[a];
    const y = demands[b];
    return (
      y.totalVfs - x.totalVfs ||
      y.dedicatedCpus - x.dedicatedCpus ||
      y.hugepageMi - x.hugepageMi ||
      (model.vms[a].ref < model.vms[b].ref ? -1 : model.vms[a].ref > model.vms[b].ref ? 1 : 0)
    );
  });

  const placement: Placement[] = model.vms.map((vm) => ({ vm: vm.ref, node: null }));
  /** Shapes (selector + needs) that found no node: free amounts only shrink, so they never will. */
  const failed = new Map<string, string>();
  for (const vi of order) {
    const vm = model.vms[vi];
    const group = groupFor(vm.config.nodeSelector);
    const needs = needsOf(demands[vi], dims);
    const shape = `${selectorKey(group.selector)}|${needs.map((x) => `${x.dim}:${x.amount}`).join(",")}`;
    const known = failed.get(shape);
    if (known !== undefined) {
      placement[vi].reason = known;
      continue;
    }
    const pos = group.selector === undefined ? -1 : group.tree.findFirst(needs);
    if (pos < 0) {
      const reason = explain(model, dims, group, needs, free);
      failed.set(shape, reason);
      placement[vi].reason = reason;
      continue;
    }
    const node = group.tree.members[pos];
    const base = node * dims.count;
    for (const x of needs) {
      free[base + x.dim] -= x.amount;
      requested[base + x.dim] += x.amount;
    }
    for (const m of memberships[node]) m.tree.update(m.pos, free);
    placement[vi].node = model.nodes[node].config.name;
  }
  return { dims, demands, placement, supply, requested };
}
