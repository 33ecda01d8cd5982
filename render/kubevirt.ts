// The KubeVirt CR. The operator manifest it depends on is loaded and checked in
// config/operatorManifest.ts.
import { effectiveDisabledGates, effectiveFeatureGates, GateDemand } from "../config/kubevirtGates";
import { KUBEVIRT_VERSION_ANNOTATION } from "../config/labels";
import type { KubevirtConfig } from "../config/schema";
import { sha256Hex, versionAtLeast } from "../config/versions";

export { sha256Hex, versionAtLeast };

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
