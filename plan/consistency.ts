// Checks that the pieces of a platform agree with each other and with what discovery found:
// pools ↔ networks, KubeVirt's injection gate, MTUs, NUMA locality, VF counts. Each check is
// one pass over nodes, pools or VMs with precomputed indexes.
import type { PathSegment } from "../config/errors";
import type { NodeModel, PfModel, PlatformModel } from "../config/model";
import {
  effectiveDisabledGates,
  effectiveFeatureGates,
  gateDemand,
  INJECTION_GATE,
  requiredFeatureGates,
} from "../config/kubevirtGates";
import { configPath } from "../config/validate";
import type { DiscoveredNode, DiscoveredPf, InjectionState, KubevirtPlan, PlanProblem } from "./types";

/** From this release KubeVirt turns ExternalNetResourceInjection on by default (beta). */

export interface Findings {
  errors: PlanProblem[];
  /** Warnings as problems; the planner formats them with the config root. */
  warnings: { path: PathSegment[]; problem: string; fix: string }[];
}

/** The gate as the cluster will run it, given what the KubeVirt component writes. */
export function kubevirtPlan(model: PlatformModel): KubevirtPlan {
  const kv = model.config.kubevirt;
  let state: InjectionState;
  if (kv.networkResourcesInjector) state = "injector";
  else if (effectiveDisabledGates(kv).includes(INJECTION_GATE)) state = "disabled";
  else state = "off-by-default";
  return {
    version: kv.version,
    externalNetResourceInjection: state,
    featureGates: effectiveFeatureGates(kv, gateDemand(model)),
  };
}

/** A gate the VMs need but the stack disables: such VMs would never start. */
function checkGates(model: PlatformModel, errors: PlanProblem[]): void {
  const kv = model.config.kubevirt;
  for (const { gate, setting } of requiredFeatureGates(kv.version, gateDemand(model))) {
    const at = kv.disabledFeatureGates.indexOf(gate);
    if (at < 0) continue;
    const key = setting.split(".")[1] as "dedicatedCpus" | "numaPassthrough";
    const vms = model.vms.filter((vm) => vm.config.tuning[key]);
    const which = vms.length === 1 ? `VM ${vms[0].ref} sets` : `${vms.length} VMs (first ${vms[0].ref}) set`;
    const consequence =
      gate === "CPUManager"
        ? "virt-handler then labels every node kubevirt.io/cpumanager=false and those VMs stay Pending"
        : "KubeVirt then rejects those VMs";
    errors.push({
      kind: "consistency",
      path: ["kubevirt", "disabledFeatureGates", at],
      problem: `${which} ${setting}, which needs KubeVirt's ${gate} feature gate, but the stack disables it: ${consequence}`,
      fix: `remove ${gate} from kubevirt.disabledFeatureGates (the program enables it), or set ${setting}: false on those VMs`,
    });
  }
}

/** Finds a node's discovered PF for a configured PF (by PCI address, else by name). */
function discoveredIndex(d: DiscoveredNode): { byPci: Map<string, DiscoveredPf>; byName: Map<string, DiscoveredPf> } {
  const byPci = new Map<string, DiscoveredPf>();
  const byName = new Map<string, DiscoveredPf>();
  for (const pf of d.pfs) {
    byPci.set(pf.pciAddress, pf);
    if (pf.name !== undefined) byName.set(pf.name, pf);
  }
  return { byPci, byName };
}

interface PfFacts {
  node: string;
  pf: PfModel;
  /** NUMA nodes of the PF (a selector's PFs may sit on several). */
  numas: number[];
  mtu?: number;
}

/** The discovered PFs a configured PF is on the node: by PCI address or name, or as its selector resolved. */
function foundPfs(
  pf: PfModel,
  d: DiscoveredNode,
  index: ReturnType<typeof discoveredIndex>,
): DiscoveredPf[] | undefined {
  if (pf.config.selector === undefined) {
    const one =
      pf.config.pciAddress !== undefined
        ? index.byPci.get(pf.config.pciAddress)
        : index.byName.get(pf.config.name as string);
    return one === undefined ? [] : [one];
  }
  if (d.resolved === undefined) return undefined; // a node script that does not report resolutions
  const entry = configPath(pf.path);
  return d.resolved.filter((r) => r.entry === entry).flatMap((r) => index.byPci.get(r.pciAddress) ?? []);
}

export function checkConsistency(model: PlatformModel, discovery?: ReadonlyMap<string, DiscoveredNode>): Findings {
  const errors: PlanProblem[] = [];
  const warnings: Findings["warnings"] = [];
  const cfg = model.config;
  const poolIndex = new Map(cfg.pools.map((p, i) => [p.name, i]));
  checkGates(model, errors);

  // PF facts: config first, discovery fills in (and is checked against) the rest. A profile's
  // PF is one place in the stack file for many nodes: each problem names the node.
  const facts = new Map<PfModel, PfFacts>();
  model.nodes.forEach((node: NodeModel) => {
    const d = discovery?.get(node.config.name);
    const index = d ? discoveredIndex(d) : undefined;
    const on = node.source.profile !== undefined ? ` (profile ${node.source.profile})` : "";
    node.pfs.forEach((pf) => {
      const path: PathSegment[] = pf.path;
      const found = d && index ? foundPfs(pf, d, index) : undefined;
      if (d && found !== undefined && found.length === 0) {
        errors.push({
          kind: "consistency",
          path,
          problem: `physical function "${pf.key}" was not found on node ${node.config.name}${on} (discovery lists ${d.pfs.map((p) => p.name ?? p.pciAddress).join(", ") || "no PFs"})`,
          fix:
            pf.config.selector !== undefined
              ? "fix the selector, or give the node its own physicalFunctions"
              : "fix the name or pciAddress, or remove the PF",
        });
      }
      for (const f of found ?? []) {
        const which = `${node.config.name}/${pf.config.selector !== undefined ? (f.name ?? f.pciAddress) : pf.key}${on}`;
        if (pf.config.numVfs > f.totalVfs) {
          errors.push({
            kind: "consistency",
            path: [...path, "numVfs"],
            problem: `${pf.config.numVfs} VFs requested on ${which} but the PF supports ${f.totalVfs} (sriov_totalvfs)`,
            fix: `lower numVfs to at most ${f.totalVfs}`,
          });
        }
        if (pf.config.numaNode !== undefined && pf.config.numaNode !== f.numaNode) {
          warnings.push({
            path: [...path, "numaNode"],
            problem: `configured NUMA node ${pf.config.numaNode} but discovery found ${f.numaNode} for ${which}`,
            fix: `set numaNode: ${f.numaNode} (the planner uses the discovered value)`,
          });
        }
      }
      const numas =
        found !== undefined && found.length > 0
          ? [...new Set(found.map((f) => f.numaNode))]
          : pf.config.numaNode !== undefined
            ? [pf.config.numaNode]
            : [];
      const mtus = (found ?? []).flatMap((f) => (f.mtu !== undefined ? [f.mtu] : []));
      facts.set(pf, {
        node: node.config.name,
        pf,
        numas,
        mtu: pf.config.mtu ?? (mtus.length > 0 ? Math.min(...mtus) : undefined),
      });
    });
  });

  // Pools without members, and the smallest PF MTU behind each pool.
  const minMtu = new Map<string, { mtu: number; where: string }>();
  /** Per pool: nodes where its VFs sit on PFs of more than one NUMA node. */
  const numaSpread = new Map<string, { node: string; numas: number[] }[]>();
  for (const [name, pool] of model.pools) {
    const pi = poolIndex.get(name) as number;
    if (pool.members.length === 0) {
      warnings.push({
        path: ["pools", pi],
        problem: `pool "${name}" has no VFs on any node`,
        fix: "give it VFs (physicalFunctions[].pool or ranges) or remove it",
      });
    }
    const perNode = new Map<string, Set<number>>();
    for (const m of pool.members) {
      const f = facts.get(m.pf);
      if (!f) continue;
      if (f.mtu !== undefined) {
        const cur = minMtu.get(name);
        if (!cur || f.mtu < cur.mtu) minMtu.set(name, { mtu: f.mtu, where: `${m.node}/${m.pf.key}` });
      }
      if (f.numas.length > 0) {
        const s = perNode.get(m.node) ?? new Set<number>();
        for (const numa of f.numas) s.add(numa);
        perNode.set(m.node, s);
      }
    }
    const spread = [...perNode]
      .filter(([, s]) => s.size > 1)
      .map(([node, s]) => ({ node, numas: [...s].sort((a, b) => a - b) }));
    if (spread.length > 0) numaSpread.set(name, spread);
  }

  // Networks ↔ pools: supply and MTU.
  cfg.networks.forEach((net, i) => {
    const pool = model.pools.get(net.pool);
    if (!pool) return;
    if (pool.supply === 0) {
      warnings.push({
        path: ["networks", i, "pool"],
        problem: `network "${net.namespace}/${net.name}" uses pool "${net.pool}" (resource ${pool.resource}) that no node supplies VFs to, so the device plugin never advertises it`,
        fix: "give the pool VFs on some node, or point the network at another pool",
      });
    }
    // host-local keeps its allocations in a file on each node: nodes never see each other's,
    // so every node hands out the range from its start (seen on the lab's real kubelets).
    const nodes = [...pool.supplyByNode].filter(([, vfs]) => vfs > 0).map(([n]) => n);
    if (net.ipam.type === "host-local" && nodes.length > 1) {
      warnings.push({
        path: ["networks", i, "ipam", "type"],
        problem: `network "${net.namespace}/${net.name}" uses host-local IPAM, but pool "${net.pool}" has VFs on ${nodes.length} nodes (${nodes.slice(0, 2).join(", ")}${nodes.length > 2 ? ", ..." : ""}) and host-local allocates on each node on its own, so pods on different nodes get the same addresses`,
        fix: "use whereabouts (one allocation across the cluster) or static IPAM with an address per pod; host-local suits a pool on one node",
      });
    }
    const m = minMtu.get(net.pool);
    if (net.mtu !== undefined && m !== undefined && net.mtu > m.mtu) {
      errors.push({
        kind: "consistency",
        path: ["networks", i, "mtu"],
        problem: `MTU ${net.mtu} exceeds the MTU ${m.mtu} of PF ${m.where}, the smallest behind pool "${net.pool}"`,
        fix: `lower the network's mtu to at most ${m.mtu}, or raise the PF mtu`,
      });
    }
  });

  // NUMA passthrough VMs on pools whose VFs span NUMA nodes: one warning per pool.
  const numaVms = new Map<string, { first: number; count: number }>();
  model.vms.forEach((vm, i) => {
    if (!vm.config.tuning.numaPassthrough) return;
    const pools = new Set(vm.interfaces.map((itf) => itf.network.pool.config.name));
    for (const p of pools) {
      if (!numaSpread.has(p)) continue;
      const cur = numaVms.get(p);
      if (cur) cur.count++;
      else numaVms.set(p, { first: i, count: 1 });
    }
  });
  for (const [p, { first, count }] of numaVms) {
    const spread = numaSpread.get(p)!;
    const example = spread[0];
    warnings.push({
      path: ["vms", first, "tuning", "numaPassthrough"],
      problem: `${count === 1 ? `VM ${model.vms[first].ref} maps` : `${count} VMs (first ${model.vms[first].ref}) map`} guest NUMA nodes to the host, but pool "${p}" has VFs on NUMA nodes ${example.numas.join(" and ")} of ${example.node}${spread.length > 1 ? ` (and ${spread.length - 1} more nodes)` : ""}: a VF may sit on a remote NUMA node`,
      fix: "split the pool so that each pool's VFs on a node sit on one NUMA node, or turn numaPassthrough off",
    });
  }

  return { errors, warnings };
}
