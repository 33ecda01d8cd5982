// Hand-built policy arguments: what @pulumi/policy's server passes, without starting it.
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";

export class NotApplicable extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? "not applicable");
  }
}

export interface Outcome {
  violations: string[];
  /** The reason given to notApplicable(), when the policy declined the resource or stack. */
  notApplicable?: string;
}

const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason);
};

export interface ResourceInput {
  type: string;
  props: Record<string, unknown>;
  name?: string;
  additionalSecretOutputs?: string[];
}

export async function runResource(
  policy: ResourceValidationPolicy,
  r: ResourceInput,
  config: object = {},
): Promise<Outcome> {
  const name = r.name ?? "res";
  const args: ResourceValidationArgs = {
    type: r.type,
    props: r.props,
    urn: `urn:pulumi:test::kubevirt-sriov::${r.type}::${name}`,
    name,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: r.additionalSecretOutputs ?? [],
    },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => config as T,
    notApplicable,
  };
  const violations: string[] = [];
  const validations = Array.isArray(policy.validateResource)
    ? policy.validateResource
    : policy.validateResource
      ? [policy.validateResource]
      : [];
  try {
    for (const v of validations) await v(args, (m) => violations.push(m));
  } catch (e) {
    if (e instanceof NotApplicable) return { violations, notApplicable: e.reason ?? "" };
    throw e;
  }
  return { violations };
}

export function resource(type: string, name: string, props: Record<string, unknown>): PolicyResource {
  return {
    type,
    name,
    props,
    urn: `urn:pulumi:test::kubevirt-sriov::${type}::${name}`,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    dependencies: [],
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
  };
}

export interface StackOutcome {
  violations: { message: string; urn?: string }[];
  notApplicable?: string;
}

export async function runStack(
  policy: StackValidationPolicy,
  resources: PolicyResource[],
  config: object = {},
): Promise<StackOutcome> {
  const args: StackValidationArgs = {
    resources,
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable,
  };
  const violations: StackOutcome["violations"] = [];
  try {
    await policy.validateStack(args, (message, urn) => violations.push({ message, urn }));
  } catch (e) {
    if (e instanceof NotApplicable) return { violations, notApplicable: e.reason ?? "" };
    throw e;
  }
  return { violations };
}

// ---- fixtures: objects as the program would register them -----------------------------

export const T = {
  vm: "kubernetes:kubevirt.io/v1:VirtualMachine",
  vmi: "kubernetes:kubevirt.io/v1:VirtualMachineInstance",
  nad: "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition",
  kubevirt: "kubernetes:kubevirt.io/v1:KubeVirt",
  configMap: "kubernetes:core/v1:ConfigMap",
  daemonSet: "kubernetes:apps/v1:DaemonSet",
  deployment: "kubernetes:apps/v1:Deployment",
  command: "command:remote:Command",
};

export function nadProps(
  name: string,
  opts: { namespace?: string; resource?: string | null; config?: unknown } = {},
): Record<string, unknown> {
  const annotations: Record<string, string> = {};
  if (opts.resource !== null) annotations["k8s.v1.cni.cncf.io/resourceName"] = opts.resource ?? "intel.com/sriov_net_A";
  const config = opts.config === undefined ? { cniVersion: "1.0.0", name, type: "sriov", vlan: 0 } : opts.config;
  return {
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { name, namespace: opts.namespace ?? "default", annotations },
    spec: { config: typeof config === "string" ? config : JSON.stringify(config) },
  };
}

export interface VmOpts {
  name?: string;
  namespace?: string;
  /** NAD per SR-IOV interface (networkName as written). */
  nads?: string[];
  mac?: boolean;
  dedicated?: boolean;
  resources?: Record<string, unknown>;
  image?: string;
}

/** The VMI spec part, as the program renders it. */
export function vmiSpec(o: VmOpts = {}): Record<string, unknown> {
  const nads = o.nads ?? ["default/sriov-net"];
  return {
    domain: {
      cpu:
        o.dedicated === false ? { cores: 2 } : { cores: 2, dedicatedCpuPlacement: true, isolateEmulatorThread: true },
      resources: o.resources ?? { requests: { cpu: "2", memory: "2Gi" }, limits: { cpu: "2", memory: "2Gi" } },
      devices: {
        interfaces: [
          { name: "default", masquerade: {} },
          ...nads.map((_, i) => ({
            name: `sriov${i}`,
            sriov: {},
            ...(o.mac === false ? {} : { macAddress: `02:00:00:00:00:0${i}` }),
          })),
        ],
      },
    },
    networks: [
      { name: "default", pod: {} },
      ...nads.map((n, i) => ({ name: `sriov${i}`, multus: { networkName: n } })),
    ],
    volumes: [{ name: "rootdisk", containerDisk: { image: o.image ?? "quay.io/containerdisks/ubuntu:24.04" } }],
  };
}

export function vmProps(o: VmOpts = {}): Record<string, unknown> {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachine",
    metadata: { name: o.name ?? "pbx", namespace: o.namespace ?? "default" },
    spec: { runStrategy: "Always", template: { metadata: {}, spec: vmiSpec(o) } },
  };
}

export function vmiProps(o: VmOpts = {}): Record<string, unknown> {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachineInstance",
    metadata: { name: o.name ?? "pbx", namespace: o.namespace ?? "default" },
    spec: vmiSpec(o),
  };
}

export function podWorkload(
  name: string,
  namespace: string,
  podSpec: Record<string, unknown>,
): Record<string, unknown> {
  return { metadata: { name, namespace }, spec: { selector: {}, template: { metadata: {}, spec: podSpec } } };
}
