// The desired state of one node, as the node script receives it: a pure function of the
// stack config, so an unchanged config renders byte-identical state and runs no command.
import type { NodeModel } from "../config/model";
import { configPath } from "../config/validate";
import type { NodeState, PfState, VfGroup } from "./nodeState";

export function renderNodeState(node: NodeModel): NodeState {
  const cfg = node.config;
  const pfs: PfState[] = node.pfs.map((pf) => {
    const s = pf.config.vfSettings;
    const vfGroups: VfGroup[] = [...pf.groups]
      .sort((a, b) => a.first - b.first)
      .map((g) => {
        const group: VfGroup = { first: g.first, last: g.last, driver: g.driver, pool: g.pool };
        if (s?.trust !== undefined) group.trust = s.trust;
        if (s?.spoofchk !== undefined) group.spoofchk = s.spoofchk;
        if (s?.linkState !== undefined) group.linkState = s.linkState;
        if (s?.minTxRate !== undefined) group.minTxRate = s.minTxRate;
        if (s?.maxTxRate !== undefined) group.maxTxRate = s.maxTxRate;
        return group;
      });
    const state: PfState = { numVfs: pf.config.numVfs, vfGroups };
    const sel = pf.config.selector;
    if (sel !== undefined) {
      state.selector = { count: sel.count, where: configPath(pf.path) };
      if (sel.vendor !== undefined) state.selector.vendor = sel.vendor;
      if (sel.device !== undefined) state.selector.device = sel.device;
      if (sel.pfName !== undefined) state.selector.pfName = sel.pfName;
      if (sel.port !== undefined) state.selector.port = sel.port;
    }
    if (pf.config.name !== undefined) state.name = pf.config.name;
    if (pf.config.pciAddress !== undefined) state.pciAddress = pf.config.pciAddress;
    if (pf.config.mtu !== undefined) state.mtu = pf.config.mtu;
    return state;
  });
  const state: NodeState = {
    schema: 1,
    node: cfg.name,
    allowDisruption: cfg.allowDisruption,
    pfs,
    kernel: {
      iommu: cfg.iommu,
      hugepages1G: cfg.bootHugepages["1Gi"],
      hugepages2M: cfg.bootHugepages["2Mi"],
      writeBootloader: cfg.writeBootloader,
    },
  };
  // Only the node script's selector messages need the profile: other nodes' state stays as it was.
  if (node.source.profile !== undefined && pfs.some((p) => p.selector !== undefined))
    state.profile = node.source.profile;
  // The owner (project/stack/node) is the component's to set: this stays a function of the config.
  if (cfg.identity !== undefined) {
    state.identity = {};
    if (cfg.identity.hostname !== undefined) state.identity.hostname = cfg.identity.hostname;
    if (cfg.identity.machineId !== undefined) state.identity.machineId = cfg.identity.machineId;
  }
  return state;
}
