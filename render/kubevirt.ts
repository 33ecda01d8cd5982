// The KubeVirt CR. The operator manifest it depends on is loaded and checked in
// config/operatorManifest.ts.
import { GateDemand, INJECTION_GATE, requiredFeatureGates } from "../config/kubevirtGates";
import { KUBEVIRT_VERSION_ANNOTATION } from "../config/labels";
import type { PlatformModel } from "../config/model";
import type { KubevirtConfig } from "../config/schema";
import { sha256Hex, versionAtLeast } from "../config/versions";

export { sha256Hex, versionAtLeast };

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

export interface KubevirtCr {
  apiVersion: "kubevirt.io/v1";
  kind: "KubeVirt";
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  spec: Record<string, unknown>;
}

export function renderKubevirtCr(
  kv: KubevirtConfig,
  registryMirror: string | undefined,
  demand: GateDemand,
): KubevirtCr {
  const developerConfiguration: Record<string, unknown> = { useEmulation: kv.useEmulation };
  const enabled = effectiveFeatureGates(kv, demand);
  if (enabled.length > 0) developerConfiguration.featureGates = enabled;
  const disabled = effectiveDisabledGates(kv);
  if (disabled.length > 0) developerConfiguration.disabledFeatureGates = disabled;
  const placement = (p: KubevirtConfig["infra"]) =>
    Object.keys(p.nodeSelector).length > 0 || p.tolerations.length > 0
      ? { nodePlacement: { nodeSelector: { ...p.nodeSelector }, tolerations: p.tolerations.map((t) => ({ ...t })) } }
      : undefined;
  const spec: Record<string, unknown> = {
    certificateRotateStrategy: {},
    configuration: { developerConfiguration },
    customizeComponents: {},
    imagePullPolicy: "IfNotPresent",
  };
  const infra = placement(kv.infra);
  const workloads = placement(kv.workloads);
  if (infra) spec.infra = infra;
  if (workloads) spec.workloads = workloads;
  if (registryMirror !== undefined) {
    spec.imageRegistry = `${registryMirror.replace(/\/$/, "")}/kubevirt`;
    spec.imageTag = kv.version;
  }
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "KubeVirt",
    metadata: { name: "kubevirt", namespace: kv.namespace, annotations: { [KUBEVIRT_VERSION_ANNOTATION]: kv.version } },
    spec,
  };
}
