// Desired states used by the node-preparation tests and the benchmark.
import { NodeState, PfState, VfGroup } from "../../render/nodeState";

/** The owner the tests' states carry: what SriovNodePrep sets under the mocks (project kubevirt-sriov, stack test). */
export const TEST_OWNER = "kubevirt-sriov/test/k8s-node1";

export function nodeState(pfs: PfState[], over: Partial<NodeState> = {}): NodeState {
  return {
    schema: 1,
    node: "k8s-node1",
    owner: `kubevirt-sriov/test/${over.node ?? "k8s-node1"}`,
    allowDisruption: false,
    pfs,
    kernel: { iommu: "intel", hugepages1G: 0, hugepages2M: 0, writeBootloader: false },
    ...over,
  };
}

/** One PF with all its VFs in one pool on one driver. */
export function allOn(
  name: string,
  numVfs: number,
  driver: VfGroup["driver"] = "vfio-pci",
  extra: Partial<VfGroup> = {},
): PfState {
  return {
    name,
    numVfs,
    vfGroups: numVfs === 0 ? [] : [{ first: 0, last: numVfs - 1, driver, pool: "voice", ...extra }],
  };
}

/** The benchmark's layout: 3/4 of the VFs to VMs (vfio-pci, VLAN, trusted), the rest as host netdevs. */
export function benchPf(name: string, numVfs: number): PfState {
  const split = Math.floor((numVfs * 3) / 4);
  return {
    name,
    numVfs,
    mtu: 9000,
    vfGroups: [
      { first: 0, last: split - 1, driver: "vfio-pci", pool: "voice", trust: true, spoofchk: false, vlan: 100, qos: 5 },
      { first: split, last: numVfs - 1, driver: "netdevice", pool: "signalling", maxTxRate: 1000 },
    ],
  };
}
