// The NICs a VoIP VM's guest sees, named once so that the KubeVirt spec, the cloud-init
// network-config and the stack outputs agree on every name, MAC and address.
import { deriveMac, type VmModel } from "../config/model";
import { parseIpv4 } from "../config/validate";

/** KubeVirt's name for the pod-network interface (and its network). */
export const MANAGEMENT_INTERFACE = "default";
/** Guest interface name of the management NIC, set by cloud-init. */
export const MANAGEMENT_GUEST_NIC = "mgmt0";
/**
 * Stands in for a network ref when deriving the management NIC's MAC. It has no '/', so it
 * can never equal a NAD ref ("<ns>/<name>") and the MAC never equals an SR-IOV one.
 */
const MANAGEMENT_MAC_KEY = "pod-network";

export interface ManagementNic {
  /** KubeVirt interface and network name. */
  name: string;
  guestName: string;
  mac: string;
}

export interface SriovNic {
  /** KubeVirt interface and network name, also the guest interface name (`sriov0`, ...). */
  name: string;
  /** NAD as Multus and KubeVirt reference it: `<ns>/<name>`. */
  networkRef: string;
  mac: string;
  /** Address with prefix, as configured: 10.56.217.10/24. */
  address: string;
  ip: string;
  prefixLength: number;
  /** The subnet of `address`: 10.56.217.0/24. */
  subnet: string;
  gateway?: string;
  mtu?: number;
}

export interface GuestNics {
  management: ManagementNic;
  sriov: SriovNic[];
}

/**
 * The management NIC gets a MAC derived like the SR-IOV ones (KubeVirt would otherwise pick
 * a random one), so cloud-init can match it by MAC in every renderer: matching by driver
 * alone is lost by cloud-init 22.4's networkd and ENI renderers (Debian 12 images), which
 * add the config's id as a required interface name.
 */
export function managementMac(vm: VmModel): string {
  return deriveMac(vm.ref, MANAGEMENT_MAC_KEY);
}

export function planGuestNics(vm: VmModel): GuestNics {
  return {
    management: { name: MANAGEMENT_INTERFACE, guestName: MANAGEMENT_GUEST_NIC, mac: managementMac(vm) },
    sriov: vm.interfaces.map((itf, i) => {
      const [ip, len] = itf.config.address.split("/");
      const prefixLength = Number(len);
      const nic: SriovNic = {
        name: `sriov${i}`,
        networkRef: itf.network.ref,
        mac: itf.mac,
        address: itf.config.address,
        ip,
        prefixLength,
        subnet: `${networkAddress(ip, prefixLength)}/${prefixLength}`,
      };
      if (itf.config.gateway !== undefined) nic.gateway = itf.config.gateway;
      if (itf.network.config.mtu !== undefined) nic.mtu = itf.network.config.mtu;
      return nic;
    }),
  };
}

/** The first SR-IOV NIC carries SIP and RTP: the PBX binds to it, the load generator calls from it. */
export function voiceNic(vm: VmModel): SriovNic {
  const nic = planGuestNics(vm).sriov[0];
  if (nic === undefined) throw new Error(`VM ${vm.ref} has no SR-IOV interface`);
  return nic;
}

function networkAddress(ip: string, prefixLength: number): string {
  const n = parseIpv4(ip);
  if (n === undefined) throw new Error(`"${ip}" is not an IPv4 address`);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const net = (n & mask) >>> 0;
  return [24, 16, 8, 0].map((s) => (net >>> s) & 0xff).join(".");
}
