// From KubeVirt v1.9 the ExternalNetResourceInjection gate is on by default and virt-controller
// stops requesting the VF a NAD names: without the network-resources-injector, SR-IOV VMs
// would start with no VF. So a v1.9+ KubeVirt CR must disable the gate unless the injector
// (its webhook) is part of the stack.
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { arr, dig, INJECTION_GATE, INJECTOR_NAME, known, KUBEVIRT_VERSION_ANNOTATION, metaOf, str, TYPES, versionAtLeast } from "./common";

const GATE_DEFAULT_ON = "v1.9.0";

export interface KubevirtGateConfig {
  /** The KubeVirt release, when the CR carries no kubevirt-sriov/version annotation. */
  kubevirtVersion?: string;
}

const INJECTOR_WORKLOAD = /^kubernetes:apps\/v1:(Deployment|DaemonSet)$/;
const MUTATING_WEBHOOKS = "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration";

/**
 * The injector only acts through its webhook, so a workload of that name is not enough: the
 * stack must hold a MutatingWebhookConfiguration that calls an injector Service, or run
 * upstream's manifest whose `installer` init container creates that configuration itself.
 */
function injectorDeployed(resources: readonly PolicyResource[]): boolean {
  return resources.some((r) => {
    if (r.type === MUTATING_WEBHOOKS) {
      return arr(known(() => r.props.webhooks)).some((w) => (str(dig(w, "clientConfig", "service", "name")) ?? "").includes(INJECTOR_NAME));
    }
    if (INJECTOR_WORKLOAD.test(r.type) && metaOf(r.props).name === INJECTOR_NAME) {
      return arr(dig(r.props, "spec", "template", "spec", "initContainers")).some((c) => arr(dig(c, "command")).includes("installer"));
    }
    return false;
  });
}

export function checkInjectionGate(resources: readonly PolicyResource[], cfg: KubevirtGateConfig, report: (message: string, urn?: string) => void): void {
  const injector = injectorDeployed(resources);
  for (const r of resources) {
    if (r.type !== TYPES.kubevirt) continue;
    const meta = metaOf(r.props);
    const version = meta.annotations[KUBEVIRT_VERSION_ANNOTATION] ?? cfg.kubevirtVersion;
    // Unknown release: assume the newest behaviour (gate on), the safe side.
    if (version !== undefined && !versionAtLeast(version, GATE_DEFAULT_ON)) continue;
    const dev = dig(r.props, "spec", "configuration", "developerConfiguration");
    const disabled = arr(dig(dev, "disabledFeatureGates")).includes(INJECTION_GATE);
    const enabled = arr(dig(dev, "featureGates")).includes(INJECTION_GATE);
    const cr = `${meta.namespace}/${meta.name ?? r.name}`;
    const which = version === undefined ? `an unknown KubeVirt release (no "${KUBEVIRT_VERSION_ANNOTATION}" annotation, no kubevirtVersion config), treated as v1.9+` : `KubeVirt ${version}`;
    if (injector) {
      if (disabled) report(`KubeVirt CR ${cr} disables ${INJECTION_GATE} although the ${INJECTOR_NAME} is deployed: the injector is never used — drop one of the two`, r.urn);
      continue;
    }
    if (enabled) {
      report(`KubeVirt CR ${cr} enables ${INJECTION_GATE} without the ${INJECTOR_NAME}: SR-IOV VMs would get no VF — remove it from featureGates and add it to spec.configuration.developerConfiguration.disabledFeatureGates`, r.urn);
    } else if (!disabled) {
      report(`KubeVirt CR ${cr} (${which}) leaves ${INJECTION_GATE} on by default and the stack has no ${INJECTOR_NAME}: SR-IOV VMs would get no VF — add it to spec.configuration.developerConfiguration.disabledFeatureGates, or deploy the injector`, r.urn);
    }
  }
}

export const kubevirtInjectionGate: StackValidationPolicy = {
  name: "kubevirt-injection-gate",
  description: `A KubeVirt v1.9+ CR disables ${INJECTION_GATE} unless the ${INJECTOR_NAME} is deployed, so SR-IOV VMs get their VFs.`,
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      kubevirtVersion: { type: "string", pattern: "^v\\d+\\.\\d+\\.\\d+" },
    },
  },
  validateStack: (args, reportViolation) => {
    if (!args.resources.some((r) => r.type === TYPES.kubevirt)) args.notApplicable("no KubeVirt CR in this stack");
    checkInjectionGate(args.resources, args.getConfig<KubevirtGateConfig>(), reportViolation);
  },
};
