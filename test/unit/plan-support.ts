// Builders of raw stack configs for the planner and report tests.
import type { PlatformInput } from "../../config/schema";

type NodeInput = PlatformInput["nodes"][number];
type VmInput = NonNullable<PlatformInput["vms"]>[number];

export function node(name: string, extra: Partial<NodeInput> = {}): NodeInput {
  return {
    name,
    ssh: { host: `${name}.example.internal` },
    capacity: { dedicatedCpus: 16, hugepages1Gi: 16, hugepages2Mi: 0 },
    physicalFunctions: [{ pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A" }],
    ...extra,
  };
}

let addressSeq = 0;

/** A custom-role VM with one interface per network name given. */
export function vm(name: string, networks: string[] = ["net-a"], extra: Partial<VmInput> = {}): VmInput {
  return {
    name,
    role: "custom",
    custom: { userData: "#cloud-config\n" },
    cpus: 2,
    memory: "2Gi",
    interfaces: networks.map((network) => {
      addressSeq++;
      return { network, address: `10.${(addressSeq >> 16) & 255}.${(addressSeq >> 8) & 255}.${addressSeq & 255}/8` };
    }),
    ...extra,
  };
}

export function platform(extra: Partial<PlatformInput> = {}): PlatformInput {
  return {
    nodes: [node("node-1")],
    pools: [{ name: "sriov_net_A" }],
    // Two networks on one pool: a VM's second VF from the same pool (a derived MAC is per VM and network).
    networks: [{ name: "net-a", pool: "sriov_net_A" }, { name: "net-a2", pool: "sriov_net_A" }],
    vms: [],
    ...extra,
  };
}
