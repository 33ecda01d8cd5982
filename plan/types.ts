// The planner's input from node discovery and its JSON-serializable result (a stack output).
import type { PathSegment } from "../config/errors";

/** What node preparation found on a node; the node-prep report is mapped onto this. */
export interface DiscoveredPf {
  name?: string;
  pciAddress: string;
  numaNode: number;
  mtu?: number;
  totalVfs: number;
}

export interface DiscoveredNode {
  pfs: DiscoveredPf[];
  /**
   * PFs chosen by NIC selector, as the node resolved them: the PF's config path (`entry`,
   * e.g. `profiles.r740.physicalFunctions[0]`) and the PCI address of each PF it matched.
   */
  resolved?: { entry: string; pciAddress: string }[];
}

/** One pool's VFs on one node. */
export interface PoolNodeUsage {
  node: string;
  supply: number;
  requested: number;
  free: number;
}

export interface PoolPlan {
  pool: string;
  /** `<prefix>/<name>`, what NADs annotate and VMs request. */
  resource: string;
  supply: number;
  /** VFs that all VMs of the stack request, placed or not. */
  demand: number;
  byNode: PoolNodeUsage[];
}

export interface Quantity {
  supply: number;
  requested: number;
  free: number;
}

/** Node-level resources besides VFs: what the node declares and what placed VMs take. */
export interface NodePlan {
  node: string;
  dedicatedCpus: Quantity;
  hugepages1Gi: Quantity;
  hugepages2Mi: Quantity;
}

export interface Placement {
  /** `<namespace>/<name>`. */
  vm: string;
  node: string | null;
  /** Why the VM has no node (absent when placed). */
  reason?: string;
}

/**
 * capacity: demand above supply (allowOvercommit turns these into warnings);
 * consistency: the pieces disagree and a deploy would break whatever the capacity.
 */
export type PlanProblemKind = "capacity" | "consistency";

export interface PlanProblem {
  kind: PlanProblemKind;
  /** Path in the stack config, as in ConfigError (`pools[1]`, `vms[3].interfaces[0]`). */
  path: PathSegment[];
  problem: string;
  fix: string;
}

/** The effective state of KubeVirt's ExternalNetResourceInjection gate. */
export type InjectionState =
  /** v1.9+ turns it on by default; the program puts it in disabledFeatureGates. */
  | "disabled"
  /** The network-resources-injector is deployed and requests the VFs. */
  | "injector"
  /** Before v1.9 the gate is off unless enabled. */
  | "off-by-default";

export interface KubevirtPlan {
  version: string;
  externalNetResourceInjection: InjectionState;
  /** The gates the KubeVirt CR enables: the configured ones plus those the VMs need. */
  featureGates: string[];
}

/**
 * The nodes of one profile, summed: the capacity of a hardware layout, as a platform team
 * sizes it (a node written out in full belongs to no profile).
 */
export interface ProfilePlan {
  profile: string;
  nodes: number;
  /** VFs per pool on the profile's nodes, and what placed VMs take of them (pools it gives no VF are left out). */
  pools: { pool: string; supply: number; requested: number; free: number }[];
  dedicatedCpus: Quantity;
  hugepages1Gi: Quantity;
  hugepages2Mi: Quantity;
}

export interface Plan {
  feasible: boolean;
  pools: PoolPlan[];
  nodes: NodePlan[];
  /** Per profile, in the order the profiles are first used (empty without profiles). */
  profiles: ProfilePlan[];
  placement: Placement[];
  kubevirt: KubevirtPlan;
  warnings: string[];
  errors: PlanProblem[];
}
