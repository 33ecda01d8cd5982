// Type tokens of the components, `kubevirt-sriov:<module>:<Type>`. A token is part of the URN
// of the component and of every resource under it, so changing one would replace all of them
// in a running stack: the tokens stay as first released, although every component now lives
// in components/. The module part names a concern, not a folder: `cluster` for what runs in
// the cluster (node agents, KubeVirt, networks, node labels), `node` for preparing a host over
// SSH, `voip` for the VMs, `index` for the platform that wires them all.
//
// Every component calls `super(token, name, {}, opts)`: its args are not registered as inputs,
// because they carry SSH credentials and whole rendered documents, which would land in the
// state a second time (the children hold what matters; outputs go through registerOutputs).
export const TOKENS = {
  platform: "kubevirt-sriov:index:SriovPlatform",
  nodePrep: "kubevirt-sriov:node:SriovNodePrep",
  nodeLabels: "kubevirt-sriov:cluster:NodeLabels",
  multus: "kubevirt-sriov:cluster:Multus",
  devicePlugin: "kubevirt-sriov:cluster:SriovDevicePlugin",
  sriovCni: "kubevirt-sriov:cluster:SriovCni",
  whereabouts: "kubevirt-sriov:cluster:Whereabouts",
  kubevirt: "kubevirt-sriov:cluster:Kubevirt",
  networks: "kubevirt-sriov:cluster:SriovNetworks",
  injector: "kubevirt-sriov:cluster:NetworkResourcesInjector",
  voipVm: "kubevirt-sriov:voip:VoipVm",
} as const;
