// The preflight planner: VF/CPU/hugepage supply against demand, placement, consistency.
// Pure: no Pulumi. The program runs it before creating anything and exports the Plan.
import { ConfigError, ConfigProblem, formatProblem } from "../config/errors";
import type { PlatformModel } from "../config/model";
import { CONFIG_ROOT } from "../config/schema";
import { checkConsistency, kubevirtPlan } from "./consistency";
import { place } from "./placement";
import type { Dimensions } from "./placement";
import type { DiscoveredNode, NodePlan, Plan, PlanProblem, PoolPlan, ProfilePlan } from "./types";

/** Unplaced VMs named one by one in the errors; the rest are counted (the placement lists all). */
const MAX_VM_ERRORS = 20;

export function planPlatform(
  model: PlatformModel,
  discovery?: ReadonlyMap<string, DiscoveredNode>,
  root: string = model.root,
): Plan {
  const { dims, demands, placement, supply, requested } = place(model);
  const errors: PlanProblem[] = [];
  const warnings: string[] = [];
  const D = dims.count;

  // Pools: supply and demand in total and per node.
  const demandByPool = new Map<string, number>();
  for (const d of demands) for (const [p, n] of d.vfs) demandByPool.set(p, (demandByPool.get(p) ?? 0) + n);
  const pools: PoolPlan[] = [];
  model.config.pools.forEach((pc, pi) => {
    const pool = model.pools.get(pc.name);
    if (!pool) return;
    const dim = dims.pool.get(pc.name) as number;
    const byNode: PoolPlan["byNode"] = [];
    model.nodes.forEach((node, ni) => {
      const s = supply[ni * D + dim];
      const r = requested[ni * D + dim];
      if (s > 0 || r > 0) byNode.push({ node: node.config.name, supply: s, requested: r, free: s - r });
    });
    const demand = demandByPool.get(pc.name) ?? 0;
    pools.push({ pool: pc.name, resource: pool.resource, supply: pool.supply, demand, byNode });
    if (demand > pool.supply) {
      errors.push({
        kind: "capacity",
        path: ["pools", pi],
        problem: `pool "${pc.name}": VMs request ${demand} VFs but the nodes supply ${pool.supply}`,
        fix: "add VFs (numVfs) or nodes, or lower the demand",
      });
    }
  });

  // Nodes: dedicated CPUs and hugepages.
  const nodes: NodePlan[] = model.nodes.map((node, ni) => {
    const q = (dim: number) => {
      const s = supply[ni * D + dim];
      const r = requested[ni * D + dim];
      return { supply: s, requested: r, free: s - r };
    };
    return {
      node: node.config.name,
      dedicatedCpus: q(dims.cpu),
      hugepages1Gi: q(dims.hugepages1Gi),
      hugepages2Mi: q(dims.hugepages2Mi),
    };
  });
  const totals = (pick: (p: NodePlan) => { supply: number }) => nodes.reduce((n, p) => n + pick(p).supply, 0);
  const aggregate: [string, number, number, string][] = [
    [
      "dedicated CPUs",
      demands.reduce((n, d) => n + d.dedicatedCpus, 0),
      totals((p) => p.dedicatedCpus),
      "capacity.dedicatedCpus",
    ],
    [
      "1Gi hugepages",
      demands.reduce((n, d) => n + d.hugepages1Gi, 0),
      totals((p) => p.hugepages1Gi),
      "capacity.hugepages1Gi",
    ],
    [
      "2Mi hugepages",
      demands.reduce((n, d) => n + d.hugepages2Mi, 0),
      totals((p) => p.hugepages2Mi),
      "capacity.hugepages2Mi",
    ],
  ];
  for (const [what, demand, have, key] of aggregate) {
    if (demand > have) {
      errors.push({
        kind: "capacity",
        path: ["nodes"],
        problem: `VMs request ${demand} ${what} but the nodes supply ${have}`,
        fix: `declare them in nodes[].${key}, add nodes, or lower the VMs' cpus/memory/tuning`,
      });
    }
  }

  // VMs without a node.
  let unplaced = 0;
  placement.forEach((p, vi) => {
    if (p.node !== null) return;
    unplaced++;
    if (unplaced > MAX_VM_ERRORS) return;
    errors.push({
      kind: "capacity",
      path: ["vms", vi],
      problem: `VM ${p.vm} fits on no node: ${p.reason}`,
      fix: "add capacity (VFs, capacity.dedicatedCpus, capacity.hugepages*) or nodes, relax its nodeSelector, or shrink the VM",
    });
  });
  if (unplaced > MAX_VM_ERRORS) {
    errors.push({
      kind: "capacity",
      path: ["vms"],
      problem: `${unplaced - MAX_VM_ERRORS} more VMs fit on no node (the plan's placement lists every one with its reason)`,
      fix: "add capacity or nodes, or lower the demand",
    });
  }

  const found = checkConsistency(model, discovery);
  errors.push(...found.errors);
  for (const w of found.warnings) warnings.push(formatProblem(root, w));

  return {
    feasible: errors.length === 0,
    pools,
    nodes,
    profiles: profilePlans(model, dims, supply, requested),
    placement,
    kubevirt: kubevirtPlan(model),
    warnings,
    errors,
  };
}

/**
 * Throws one ConfigError listing every problem that would break the deploy; returns the
 * warnings to log. With allowOvercommit, capacity problems are returned as warnings instead
 * (consistency problems still throw: no amount of overcommit makes them work).
 */
export function assertFeasible(plan: Plan, allowOvercommit: boolean, root: string = CONFIG_ROOT): string[] {
  const fatal: ConfigProblem[] = [];
  const warnings = [...plan.warnings];
  for (const e of plan.errors) {
    const p: ConfigProblem = { path: e.path, problem: e.problem, fix: e.fix };
    if (allowOvercommit && e.kind === "capacity")
      warnings.push(`${formatProblem(root, p)} (allowed by allowOvercommit)`);
    else fatal.push(p);
  }
  if (fatal.length > 0) throw new ConfigError(root, fatal, "the platform does not fit the cluster");
  return warnings;
}

/** Supply and what placed VMs take, summed over the nodes of each profile. */
function profilePlans(
  model: PlatformModel,
  dims: Dimensions,
  supply: Float64Array,
  requested: Float64Array,
): ProfilePlan[] {
  const D = dims.count;
  const byProfile = new Map<string, { nodes: number; supply: Float64Array; requested: Float64Array }>();
  model.nodes.forEach((node, ni) => {
    const p = node.source.profile;
    if (p === undefined) return;
    let sum = byProfile.get(p);
    if (!sum) byProfile.set(p, (sum = { nodes: 0, supply: new Float64Array(D), requested: new Float64Array(D) }));
    sum.nodes++;
    for (let d = 0; d < D; d++) {
      sum.supply[d] += supply[ni * D + d];
      sum.requested[d] += requested[ni * D + d];
    }
  });
  return [...byProfile].map(([profile, sum]) => {
    const q = (d: number) => ({
      supply: sum.supply[d],
      requested: sum.requested[d],
      free: sum.supply[d] - sum.requested[d],
    });
    return {
      profile,
      nodes: sum.nodes,
      pools: dims.poolNames.flatMap((pool) => {
        const d = dims.pool.get(pool) as number;
        return sum.supply[d] > 0 || sum.requested[d] > 0 ? [{ pool, ...q(d) }] : [];
      }),
      dedicatedCpus: q(dims.cpu),
      hugepages1Gi: q(dims.hugepages1Gi),
      hugepages2Mi: q(dims.hugepages2Mi),
    };
  });
}
