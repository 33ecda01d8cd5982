// NetworkAttachmentDefinitions backed by the SR-IOV CNI.
import type { NetworkModel } from "../config/model";

import { RESOURCE_NAME_ANNOTATION } from "../config/labels";
export const CNI_VERSION = "1.0.0";

export type SriovCniConfig = Record<string, unknown> & { type: "sriov"; vlan: number };

/** The SR-IOV CNI config of a network; `vlan` is always written so no stale VLAN survives. */
export function renderSriovCniConfig(net: NetworkModel): SriovCniConfig {
  const c = net.config;
  const cfg: SriovCniConfig = { cniVersion: CNI_VERSION, name: c.name, type: "sriov", vlan: c.vlan };
  if (c.vlanQoS !== undefined) cfg.vlanQoS = c.vlanQoS;
  if (c.vlanProto !== undefined) cfg.vlanProto = c.vlanProto;
  if (c.spoofchk !== undefined) cfg.spoofchk = c.spoofchk;
  if (c.trust !== undefined) cfg.trust = c.trust;
  if (c.linkState !== undefined) cfg.link_state = c.linkState;
  if (c.minTxRate !== undefined) cfg.min_tx_rate = c.minTxRate;
  if (c.maxTxRate !== undefined) cfg.max_tx_rate = c.maxTxRate;
  // Multus hands a pod's (or KubeVirt VM interface's) requested MAC and addresses to the plugin
  // as runtimeConfig, and libcni passes runtimeConfig only for the capabilities a config declares:
  // without `mac`, a VM's `mac` never reaches the VF; without `ips`, static IPAM gets no address.
  cfg.capabilities = c.ipam.type === "static" ? { mac: true, ips: true } : { mac: true };
  switch (c.ipam.type) {
    case "none":
      cfg.ipam = {};
      break;
    case "static":
      cfg.ipam = { type: "static" };
      break;
    case "host-local": {
      const { type, subnet, rangeStart, rangeEnd, gateway } = c.ipam;
      cfg.ipam = {
        type,
        subnet,
        ...(rangeStart && { rangeStart }),
        ...(rangeEnd && { rangeEnd }),
        ...(gateway && { gateway }),
      };
      break;
    }
    case "whereabouts":
      cfg.ipam = { type: "whereabouts", range: c.ipam.range };
      break;
  }
  return cfg;
}

export interface NadDocument {
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  spec: { config: string };
}

export function renderNad(net: NetworkModel): NadDocument {
  return {
    metadata: {
      name: net.config.name,
      namespace: net.config.namespace,
      annotations: { [RESOURCE_NAME_ANNOTATION]: net.pool.resource },
    },
    spec: { config: JSON.stringify(renderSriovCniConfig(net)) },
  };
}
