// From KubeVirt v1.9 the ExternalNetResourceInjection gate is on by default and virt-controller
// stops requesting the VF a NAD names: without the network-resources-injector, SR-IOV VMs
// would start with no VF. So a v1.9+ KubeVirt CR must disable the gate unless the injector
// (its webhook) is part of the stack.
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { CPU_MANAGER_GATE, INJECTION_GATE, requiredFeatureGates } from "../../config/kubevirtGates";
import { KUBEVIRT_VERSION_ANNOTATION } from "../../config/labels";
import { INJECTOR } from "../../render/injector";
import { arr, dig, isVmType, known, metaOf, str, TYPES, versionAtLeast, vmiSpecOf } from "./common";

const INJECTOR_NAME = INJECTOR.name;

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
      return arr(known(() => r.props.webhooks)).some((w) =>
        (str(dig(w, "clientConfig", "service", "name")) ?? "").includes(INJECTOR_NAME),
      );
    }
    if (INJECTOR_WORKLOAD.test(r.type) && metaOf(r.props).name === INJECTOR_NAME) {
      return arr(dig(r.props, "spec", "template", "spec", "initContainers")).some((c) =>
        arr(dig(c, "command")).includes("installer"),
      );
    }
    return false;
  });
}

export function checkInjectionGate(
  resources: readonly PolicyResource[],
  cfg: KubevirtGateConfig,
  report: (message: string, urn?: string) => void,
): void {
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
    const which =
      version === undefined
        ? `an unknown KubeVirt release (no "${KUBEVIRT_VERSION_ANNOTATION}" annotation, no kubevirtVersion config), treated as v1.9+`
        : `KubeVirt ${version}`;
    if (injector) {
      if (disabled)
        report(
          `KubeVirt CR ${cr} disables ${INJECTION_GATE} although the ${INJECTOR_NAME} is deployed: the injector is never used — drop one of the two`,
          r.urn,
        );
      continue;
    }
    if (enabled) {
      report(
        `KubeVirt CR ${cr} enables ${INJECTION_GATE} without the ${INJECTOR_NAME}: SR-IOV VMs would get no VF — remove it from featureGates and add it to spec.configuration.developerConfiguration.disabledFeatureGates`,
        r.urn,
      );
    } else if (!disabled) {
      report(
        `KubeVirt CR ${cr} (${which}) leaves ${INJECTION_GATE} on by default and the stack has no ${INJECTOR_NAME}: SR-IOV VMs would get no VF — add it to spec.configuration.developerConfiguration.disabledFeatureGates, or deploy the injector`,
        r.urn,
      );
    }
  }
}

type StackCheck = (
  resources: readonly PolicyResource[],
  cfg: KubevirtGateConfig,
  report: (message: string, urn?: string) => void,
) => void;

/** A mandatory stack policy on the KubeVirt CR, configurable with the release it runs. */
function kubevirtCrPolicy(name: string, description: string, check: StackCheck): StackValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        kubevirtVersion: { type: "string", pattern: "^v\\d+\\.\\d+\\.\\d+" },
      },
    },
    validateStack: (args, reportViolation) => {
      if (!args.resources.some((r) => r.type === TYPES.kubevirt)) args.notApplicable("no KubeVirt CR in this stack");
      check(args.resources, args.getConfig<KubevirtGateConfig>(), reportViolation);
    },
  };
}

export const kubevirtInjectionGate = kubevirtCrPolicy(
  "kubevirt-injection-gate",
  `A KubeVirt v1.9+ CR disables ${INJECTION_GATE} unless the ${INJECTOR_NAME} is deployed, so SR-IOV VMs get their VFs.`,
  checkInjectionGate,
);

/**
 * VM settings that only work with a KubeVirt feature gate on (config/kubevirtGates.ts): the CR
 * of the stack must enable each gate its VMs need, and must not disable it.
 */
export function checkFeatureGates(
  resources: readonly PolicyResource[],
  cfg: KubevirtGateConfig,
  report: (message: string, urn?: string) => void,
): void {
  const users = { dedicatedCpus: [] as string[], numaPassthrough: [] as string[] };
  for (const r of resources) {
    if (!isVmType(r.type)) continue;
    const spec = known(() => vmiSpecOf(r.type, r.props));
    if (!spec) continue;
    const meta = metaOf(r.props);
    const ref = `${meta.namespace}/${meta.name ?? r.name}`;
    if (dig(spec, "domain", "cpu", "dedicatedCpuPlacement") === true) users.dedicatedCpus.push(ref);
    if (dig(spec, "domain", "cpu", "numa", "guestMappingPassthrough") !== undefined) users.numaPassthrough.push(ref);
  }
  for (const r of resources) {
    if (r.type !== TYPES.kubevirt) continue;
    const meta = metaOf(r.props);
    // Unknown release: the newest behaviour, as for the injection gate.
    const version = meta.annotations[KUBEVIRT_VERSION_ANNOTATION] ?? cfg.kubevirtVersion ?? "v999.0.0";
    const dev = dig(r.props, "spec", "configuration", "developerConfiguration");
    const enabled = arr(dig(dev, "featureGates"));
    const disabled = arr(dig(dev, "disabledFeatureGates"));
    const demand = { dedicatedCpus: users.dedicatedCpus.length > 0, numaPassthrough: users.numaPassthrough.length > 0 };
    for (const { gate, setting } of requiredFeatureGates(version, demand)) {
      if (enabled.includes(gate) && !disabled.includes(gate)) continue;
      const vms = setting === "tuning.dedicatedCpus" ? users.dedicatedCpus : users.numaPassthrough;
      const field = setting === "tuning.dedicatedCpus" ? "dedicatedCpuPlacement" : "numa.guestMappingPassthrough";
      const list = vms.length > 3 ? `${vms.slice(0, 3).join(", ")} and ${vms.length - 3} more` : vms.join(", ");
      report(
        `KubeVirt CR ${meta.namespace}/${meta.name ?? r.name} ${disabled.includes(gate) ? "disables" : "does not enable"} the ${gate} feature gate, but VM${vms.length === 1 ? "" : "s"} ${list} set${vms.length === 1 ? "s" : ""} domain.cpu.${field}: ${gate === CPU_MANAGER_GATE ? "virt-handler labels every node kubevirt.io/cpumanager=false and such VMs stay Pending" : "KubeVirt rejects such VMs"} — add ${gate} to spec.configuration.developerConfiguration.featureGates (and remove it from disabledFeatureGates)`,
        r.urn,
      );
    }
  }
}

export const kubevirtFeatureGates = kubevirtCrPolicy(
  "kubevirt-feature-gates",
  "The KubeVirt CR enables every feature gate its VMs' settings need (CPUManager for dedicated CPUs).",
  checkFeatureGates,
);
