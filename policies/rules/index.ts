// Every policy of the pack, each in its own module so tests import them without starting the
// pack's gRPC server (which `new PolicyPack` does).
export { hostAccessOnlyForNodeAgents } from "./hostAccess";
export { pinnedImages } from "./images";
export { kubevirtFeatureGates, kubevirtInjectionGate } from "./kubevirtGate";
export { nodePrepHostKeys, nodePrepHostKeysProduction, nodePrepNoPlaintextCredentials } from "./nodePrep";
export { vfDemandWithinSupply } from "./vfDemand";
export { vmDedicatedCpuResources, vmSriovMacAddresses } from "./vmHygiene";
export { vmSriovNetworks } from "./vmNetworks";
