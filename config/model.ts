// The validated, defaulted and cross-referenced view of a stack's config that every
// planner, renderer and component reads. Built only by `parsePlatform` (validate.ts).
import { createHash } from "crypto";
import type {
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
  /** Interface name or PCI address: how the node script and the device plugin find it. */
  key: string;
  config: PhysicalFunctionConfig;
  groups: VfGroupModel[];
}

export interface NodeModel {
  config: NodeConfig;
  pfs: PfModel[];
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
  config: PlatformConfig;
  nodes: NodeModel[];
  pools: Map<string, PoolModel>;
  networks: Map<string, NetworkModel>;
  vms: VmModel[];
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
