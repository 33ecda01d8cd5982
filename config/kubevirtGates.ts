// KubeVirt feature gates that the VMs' settings depend on, as KubeVirt's own feature-gate
// registry has them (pkg/virt-config/featuregate/{active,inactive}.go at v1.9.0). Shared by the
// renderer (which turns the gates on), the planner and the policy pack (which flag a stack that
// turns them off). The settings the VMs use, one by one:
// - dedicatedCpuPlacement: the CPUManager gate, Alpha (off by default) in every release up to
//   v1.9.0. Without it virt-handler labels every node `kubevirt.io/cpumanager=false` and a VM
//   with dedicated CPUs stays Pending.
// - isolateEmulatorThread: no gate of its own; KubeVirt accepts it only with
//   dedicatedCpuPlacement (so it needs CPUManager too; validation already requires that).
// - NUMA guestMappingPassthrough: the NUMA gate, GA since v1.4.0 (always on); before that it
//   had to be enabled.
// - hugepages: no gate in any release.
import type { KubevirtConfig } from "./schema";
import type { PlatformModel } from "./model";
import { versionAtLeast } from "./versions";

export const CPU_MANAGER_GATE = "CPUManager";
/**
 * On by default from v1.9.0: virt-controller then leaves a launcher pod's VF requests to the
 * network-resources-injector, so without the injector this gate must be off.
 */
export const INJECTION_GATE = "ExternalNetResourceInjection";
export const NUMA_GATE = "NUMA";
/** From this release the NUMA gate is GA: on, and no longer needed in featureGates. */
export const NUMA_GATE_GA = "v1.4.0";

/** What the VMs of a stack ask for that a feature gate controls. */
export interface GateDemand {
  /** Some VM asks for dedicated CPUs (dedicatedCpuPlacement). */
  dedicatedCpus: boolean;
  /** Some VM maps its NUMA topology to the host (guestMappingPassthrough). */
  numaPassthrough: boolean;
}

export interface RequiredGate {
  gate: string;
  /** The VM setting that needs it, as the stack config names it. */
  setting: string;
}

/** The gates a KubeVirt release must have on for the VMs' settings to work. */
export function requiredFeatureGates(version: string, demand: GateDemand): RequiredGate[] {
  const gates: RequiredGate[] = [];
  if (demand.dedicatedCpus) gates.push({ gate: CPU_MANAGER_GATE, setting: "tuning.dedicatedCpus" });
  if (demand.numaPassthrough && !versionAtLeast(version, NUMA_GATE_GA)) {
    gates.push({ gate: NUMA_GATE, setting: "tuning.numaPassthrough" });
  }
  return gates;
}

/**
 * Gates to disable. From v1.9 ExternalNetResourceInjection is on by default and then
 * virt-controller stops requesting the VF named by the NAD: unless the
 * network-resources-injector runs, SR-IOV VMs would start without a VF.
 */
export function effectiveDisabledGates(kv: KubevirtConfig): string[] {
  const gates = [...kv.disabledFeatureGates];
  if (versionAtLeast(kv.version, "v1.9.0") && !kv.networkResourcesInjector && !gates.includes(INJECTION_GATE)) {
    gates.push(INJECTION_GATE);
  }
  return gates;
}

/** What the stack's VMs ask for that KubeVirt gates (see config/kubevirtGates.ts). */
export function gateDemand(model: PlatformModel): GateDemand {
  return {
    dedicatedCpus: model.vms.some((vm) => vm.config.tuning.dedicatedCpus),
    numaPassthrough: model.vms.some((vm) => vm.config.tuning.numaPassthrough),
  };
}

/**
 * Gates to enable: the configured ones plus those the VMs need (CPUManager for dedicated CPUs:
 * Alpha, so off unless listed). A gate the stack disables on purpose is left off here; the
 * planner refuses that stack with the reason.
 */
export function effectiveFeatureGates(kv: KubevirtConfig, demand: GateDemand): string[] {
  const gates = [...kv.featureGates];
  for (const { gate } of requiredFeatureGates(kv.version, demand)) {
    if (!gates.includes(gate) && !kv.disabledFeatureGates.includes(gate)) gates.push(gate);
  }
  return gates;
}
