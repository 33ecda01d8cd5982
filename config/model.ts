// The validated, defaulted and cross-referenced view of a stack's config that every
// planner, renderer and component reads. Built only by `parsePlatform` (validate.ts).
import { createHash } from "crypto";
import type { PathSegment } from "./errors";
import type {
  NicSelectorConfig,
  NetworkConfig,
  NodeConfig,
  PhysicalFunctionConfig,
  PlatformConfig,
  PoolConfig,
  VfDriver,
  VmConfig,
  VmInterfaceConfig,
} from "./schema";

export interface VfGroupModel {
  first: number;
  last: number;
  pool: string;
  driver: VfDriver;
}

export interface PfModel {
  /**
   * Interface name or PCI address: how the node script and the device plugin find it; for a
   * PF chosen by a NIC selector, the selector in words (`selector(8086:1593, port 0)`).
   */
  key: string;
  config: PhysicalFunctionConfig;
  groups: VfGroupModel[];
  /** Where it is written: `nodes[3].physicalFunctions[0]`, or its profile's `profiles.r740.physicalFunctions[0]`. */
  path: PathSegment[];
  /** PFs it stands for on the node: 1, or its selector's count (each gets the groups). */
  count: number;
}

/** Where a node is written in the stack file. */
export interface NodeSourceModel {
  /** Index of its entry in `nodes` (one entry may stand for many nodes). */
  entry: number;
  /** The profile it takes its settings from. */
  profile?: string;
  /** Where its SSH host key is pinned, and its jump host's. */
  hostKey: PathSegment[];
  bastionHostKey: PathSegment[];
}

export interface NodeModel {
  config: NodeConfig;
  pfs: PfModel[];
  source: NodeSourceModel;
}

export interface PoolMember {
  node: string;
  pf: PfModel;
  group: VfGroupModel;
}

export interface PoolModel {
  config: PoolConfig;
  /** `<prefix>/<name>`: what pods and VMs request and what NADs annotate. */
  resource: string;
  members: PoolMember[];
  /** VFs per node in this pool. */
  supplyByNode: Map<string, number>;
  supply: number;
}

export interface NetworkModel {
  config: NetworkConfig;
  /** `<namespace>/<name>` as Multus and KubeVirt reference it. */
  ref: string;
  pool: PoolModel;
}

export interface VmInterfaceModel {
  config: VmInterfaceConfig;
  network: NetworkModel;
  /** The configured MAC or one derived from the VM and network names. */
  mac: string;
}

export interface VmModel {
  config: VmConfig;
  /** `<namespace>/<name>`. */
  ref: string;
  interfaces: VmInterfaceModel[];
  image: string;
}

export interface PlatformModel {
  /** The config with every node entry expanded (profiles applied, groups listed node by node). */
  config: PlatformConfig;
  nodes: NodeModel[];
  pools: Map<string, PoolModel>;
  networks: Map<string, NetworkModel>;
  vms: VmModel[];
  /** What its problems are reported under: the stack's config key, or the platform file's name. */
  root: string;
}

/**
 * A stable, locally administered unicast MAC for a VM's interface on a network, so a
 * re-created VM keeps its address (DHCP leases, ARP caches, SIP registrations survive).
 */
export function deriveMac(vmRef: string, networkRef: string): string {
  const h = createHash("sha256").update(`${vmRef}|${networkRef}`).digest();
  const bytes = [0x02, h[0], h[1], h[2], h[3], h[4]];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** A NIC selector in words: `selector(8086:1593, port 0)`, `selector(ens*f1, ×2)`. */
export function describeSelector(s: NicSelectorConfig): string {
  const parts: string[] = [];
  if (s.vendor !== undefined && s.device !== undefined) parts.push(`${s.vendor}:${s.device}`);
  else if (s.vendor !== undefined) parts.push(`vendor ${s.vendor}`);
  else if (s.device !== undefined) parts.push(`device ${s.device}`);
  if (s.pfName !== undefined) parts.push(s.pfName);
  if (s.port !== undefined) parts.push(`port ${s.port}`);
  if (s.count !== 1) parts.push(`×${s.count}`);
  return `selector(${parts.join(", ")})`;
}

/** Whether any node chooses a PF by NIC selector (then the device plugin's config waits for node preparation). */
export function usesSelectors(model: Pick<PlatformModel, "nodes">): boolean {
  return model.nodes.some((n) => n.pfs.some((pf) => pf.config.selector !== undefined));
}
