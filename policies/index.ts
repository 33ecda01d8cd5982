// The kubevirt-sriov policy pack: `pulumi preview --policy-pack policies`. Wiring only — the
// policies live in ./rules. Default levels: mandatory for what breaks a deploy, advisory for
// hygiene; each stack can override any level with --policy-pack-config (see docs/preflight.md).
import { PolicyPack } from "@pulumi/policy";
import {
  hostAccessOnlyForNodeAgents,
  kubevirtFeatureGates,
  kubevirtInjectionGate,
  nodePrepHostKeys,
  nodePrepHostKeysProduction,
  nodePrepNoPlaintextCredentials,
  pinnedImages,
  vfDemandWithinSupply,
  vmDedicatedCpuResources,
  vmSriovMacAddresses,
  vmSriovNetworks,
} from "./rules";

new PolicyPack("kubevirt-sriov", {
  enforcementLevel: "advisory",
  policies: [
    pinnedImages,
    hostAccessOnlyForNodeAgents,
    vmSriovNetworks,
    kubevirtInjectionGate,
    kubevirtFeatureGates,
    vmSriovMacAddresses,
    vmDedicatedCpuResources,
    nodePrepNoPlaintextCredentials,
    nodePrepHostKeysProduction,
    nodePrepHostKeys,
    vfDemandWithinSupply,
  ],
});
