// What the lab's real-kernel nodes get in the stack: PFs discovered from each guest with the node
// script itself (`sriov-node.sh discover`, sent like components/nodePrep.ts sends `apply`), and a
// layout the emulated igb can carry (7 VFs per PF): a vfio-pci pool, a netdevice pool, VF
// trust/spoofchk settings. Neither linkState nor rate limits: igb refuses `vf N state` and refuses
// max_tx_rate while the PF link is down.
import type { NodeDiscovery, PhysicalFunctionReport } from "../../render/nodeReport";
import { parseDiscovery } from "../../render/nodeReport";
import { renderRemoteCommand } from "../../render/nodeState";
import type { Guest } from "./guests";

/** The guest's SR-IOV PFs (sriov_totalvfs > 0), in PCI order, as the node script reports them. */
export async function discoverGuest(guest: Guest): Promise<NodeDiscovery> {
  const cmd = renderRemoteCommand("discover", {
    schema: 1,
    node: guest.name,
    allowDisruption: false,
    pfs: [],
    kernel: { iommu: "intel", hugepages1G: 0, hugepages2M: 0, writeBootloader: false },
  });
  return parseDiscovery(await guest.run(cmd, { timeoutMs: 120_000 }));
}

export function sriovPfs(d: NodeDiscovery): PhysicalFunctionReport[] {
  return d.pfs.filter((p) => p.totalVfs > 0).sort((a, b) => a.pciAddress.localeCompare(b.pciAddress));
}

/** Pools the real-kernel layout adds to the lab stack's (a netdevice pool no VM uses). */
export const GUEST_POOLS = [{ name: "pod_net" }];

/**
 * The network the real-kubelet lab's test pods attach to: pod_net VFs on VLAN 300, addresses given
 * per pod (static IPAM: host-local would hand out the same address on every node).
 */
export const KUBELET_NETWORKS = [
  {
    name: "pod-net",
    namespace: "default",
    pool: "pod_net",
    vlan: 300,
    spoofchk: "on",
    trust: "on",
    ipam: { type: "static" },
  },
];

/**
 * Node i's physical functions in the stack, from its discovered PFs: the first by name, a second
 * by PCI address (both ways of naming a PF go through the engine).
 *   lab-node-1: PF 1: 4 VFs, 0-1 voip_media (vfio-pci), 2-3 pod_net (netdevice), trust on, spoofchk off
 *               PF 2: 2 VFs, voip_sig (vfio-pci), spoofchk on, trust off
 *   lab-node-2: PF 1: 3 VFs, voip_media (vfio-pci), trust on, spoofchk off
 *               (with kubelets: 4 VFs, 0-2 voip_media, 3 pod_net (netdevice))
 *   lab-node-3+: PF 1: 2 VFs, voip_sig (vfio-pci)
 */
export function guestPhysicalFunctions(
  index: number,
  pfs: PhysicalFunctionReport[],
  kubelets = false,
): Record<string, unknown>[] {
  const need = index === 0 ? 2 : 1;
  if (pfs.length < need)
    throw new Error(`lab-node-${index + 1}: ${need} SR-IOV PF(s) expected, the guest reports ${pfs.length}`);
  const byName = (pf: PhysicalFunctionReport) => {
    if (!pf.name) throw new Error(`lab-node-${index + 1}: PF ${pf.pciAddress} has no netdev`);
    return pf.name;
  };
  if (index === 0) {
    return [
      {
        name: byName(pfs[0]),
        numVfs: 4,
        ranges: [
          { vfs: "0-1", pool: "voip_media" },
          { vfs: "2-3", pool: "pod_net", driver: "netdevice" },
        ],
        vfSettings: { trust: true, spoofchk: false },
      },
      { pciAddress: pfs[1].pciAddress, numVfs: 2, pool: "voip_sig", vfSettings: { spoofchk: true, trust: false } },
    ];
  }
  if (index === 1 && kubelets) {
    // A pod_net VF too, on the PF wired to lab-node-1's: pods on the two nodes talk over VFs.
    return [
      {
        name: byName(pfs[0]),
        numVfs: 4,
        ranges: [
          { vfs: "0-2", pool: "voip_media" },
          { vfs: "3", pool: "pod_net", driver: "netdevice" },
        ],
        vfSettings: { trust: true, spoofchk: false },
      },
    ];
  }
  if (index === 1)
    return [{ name: byName(pfs[0]), numVfs: 3, pool: "voip_media", vfSettings: { trust: true, spoofchk: false } }];
  return [{ name: byName(pfs[0]), numVfs: 2, pool: "voip_sig" }];
}
