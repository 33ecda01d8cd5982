// The KubeVirt CR, and the checks on the operator manifest it depends on.
import { createHash } from "crypto";
import { GateDemand, INJECTION_GATE, requiredFeatureGates } from "../config/kubevirtGates";
import { KUBEVIRT_VERSION_ANNOTATION } from "../config/labels";
import type { PlatformModel } from "../config/model";
import type { KubevirtConfig } from "../config/schema";
import { versionAtLeast } from "../config/versions";

export { versionAtLeast };


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

export function renderKubevirtCr(kv: KubevirtConfig, registryMirror: string | undefined, demand: GateDemand): KubevirtCr {
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

export function sha256Hex(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Checks the operator manifest against the pinned SHA-256 and points its images at the
 * mirror. Returns an error message (what is wrong — how to fix it) instead of throwing, so
 * callers can fold it into their own error type.
 */
export function verifyOperatorManifest(
  text: string,
  source: string,
  version: string,
  pinned: string | undefined,
): { ok: true } | { ok: false; message: string } {
  const actual = sha256Hex(text);
  if (pinned === undefined) {
    return {
      ok: false,
      message: `the KubeVirt ${version} operator manifest from ${source} has SHA-256 ${actual}, but no SHA-256 is pinned — check it against the release's published checksum, then set kubevirt.operatorManifest.sha256: ${actual}`,
    };
  }
  if (actual !== pinned) {
    return {
      ok: false,
      message: `the KubeVirt ${version} operator manifest from ${source} has SHA-256 ${actual}, expected ${pinned} — the file was changed or is a different release; fetch the right one, or pin the new hash only after checking it`,
    };
  }
  return { ok: true };
}

/** Rewrites the operator's quay.io/kubevirt images to the mirror (air-gapped clusters). */
export function mirrorOperatorManifest(text: string, registryMirror: string | undefined): string {
  if (registryMirror === undefined) return text;
  return text.split("quay.io/kubevirt/").join(`${registryMirror.replace(/\/$/, "")}/kubevirt/`);
}
