// Shared knowledge of the resources the policies look at: type tokens, where the pod or VMI
// spec sits, the annotations the program writes, and tolerant accessors (policies see raw
// JSON, which may be partial during preview). Names the program writes come from its own
// modules (config/labels.ts, config/kubevirtGates.ts, render/), never from a copy here.
import { RESOURCE_NAME_ANNOTATION } from "../../config/labels";

export const TYPES = {
  vm: "kubernetes:kubevirt.io/v1:VirtualMachine",
  vmi: "kubernetes:kubevirt.io/v1:VirtualMachineInstance",
  kubevirt: "kubernetes:kubevirt.io/v1:KubeVirt",
  nad: "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition",
  configMap: "kubernetes:core/v1:ConfigMap",
  remoteCommand: "command:remote:Command",
  localCommand: "command:local:Command",
} as const;

export type Json = Record<string, unknown>;

/**
 * Runs a read that may hit a value unknown during preview (@pulumi/policy's proxy throws
 * UnknownValueError, which would make the whole policy skip the resource) and returns
 * undefined for it instead, so the rest of the resource is still checked.
 */
export function known<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e instanceof Error && e.constructor.name === "UnknownValueError") return undefined;
    throw e;
  }
}

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function obj(v: unknown): Json {
  return isObject(v) ? v : {};
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** `a.b.c` of a JSON value, undefined where any step is missing. */
export function dig(v: unknown, ...keys: string[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (!isObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

export interface ObjectMeta {
  name?: string;
  namespace: string;
  annotations: Record<string, string>;
}

export function metaOf(props: Json): ObjectMeta {
  const m = obj(props.metadata);
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(m.annotations))) if (typeof v === "string") annotations[k] = v;
  return { name: str(m.name), namespace: str(m.namespace) ?? "default", annotations };
}

/** Where each Pod-bearing kind keeps its pod spec. */
const POD_SPEC_PATHS: Record<string, string[]> = {
  "kubernetes:core/v1:Pod": ["spec"],
  "kubernetes:core/v1:ReplicationController": ["spec", "template", "spec"],
  "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
  "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
  "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
  "kubernetes:apps/v1:ReplicaSet": ["spec", "template", "spec"],
  "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
  "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
};

export function isPodBearing(type: string): boolean {
  return type in POD_SPEC_PATHS;
}

export function podSpecOf(type: string, props: Json): Json | undefined {
  const path = POD_SPEC_PATHS[type];
  if (!path) return undefined;
  const spec = dig(props, ...path);
  return isObject(spec) ? spec : undefined;
}

export interface ContainerRef {
  /** e.g. `containers[0]`. */
  where: string;
  name?: string;
  image?: string;
  container: Json;
}

export function containersOf(podSpec: Json): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const field of ["initContainers", "containers", "ephemeralContainers"]) {
    arr(podSpec[field]).forEach((c, i) => {
      const container = obj(c);
      out.push({ where: `${field}[${i}]`, name: str(container.name), image: str(container.image), container });
    });
  }
  return out;
}

export function isVmType(type: string): boolean {
  return type === TYPES.vm || type === TYPES.vmi;
}

/** The VMI spec: spec.template.spec of a VirtualMachine, spec of a VirtualMachineInstance. */
export function vmiSpecOf(type: string, props: Json): Json | undefined {
  const spec = type === TYPES.vm ? dig(props, "spec", "template", "spec") : type === TYPES.vmi ? props.spec : undefined;
  return isObject(spec) ? spec : undefined;
}

export interface SriovInterface {
  name: string;
  /** The interface object (domain.devices.interfaces[i]). */
  iface: Json;
  index: number;
  /** `<namespace>/<name>` of the NAD, from spec.networks[].multus.networkName. */
  nadRef?: string;
}

/** The SR-IOV interfaces of a VMI spec and the NAD each one points at. */
export function sriovInterfacesOf(vmiSpec: Json, vmNamespace: string): SriovInterface[] {
  const networks = new Map<string, Json>();
  for (const n of arr(vmiSpec.networks)) {
    const net = obj(n);
    const name = str(net.name);
    if (name !== undefined) networks.set(name, net);
  }
  const out: SriovInterface[] = [];
  arr(dig(vmiSpec, "domain", "devices", "interfaces")).forEach((i, index) => {
    const iface = obj(i);
    if (!("sriov" in iface)) return;
    const name = str(iface.name) ?? `#${index}`;
    const networkName = str(dig(networks.get(name), "multus", "networkName"));
    const nadRef =
      networkName === undefined ? undefined : networkName.includes("/") ? networkName : `${vmNamespace}/${networkName}`;
    out.push({ name, iface, index, nadRef });
  });
  return out;
}

export interface NadInfo {
  ref: string;
  urn: string;
  resourceName?: string;
  /** spec.config as text, if any. */
  config?: string;
}

/** NADs of the stack by `<namespace>/<name>`. */
export function nadIndex(resources: readonly { type: string; props: Json; urn: string }[]): Map<string, NadInfo> {
  const out = new Map<string, NadInfo>();
  for (const r of resources) {
    if (r.type !== TYPES.nad) continue;
    const m = metaOf(r.props);
    if (m.name === undefined) continue;
    const ref = `${m.namespace}/${m.name}`;
    out.set(ref, {
      ref,
      urn: r.urn,
      resourceName: m.annotations[RESOURCE_NAME_ANNOTATION],
      config: str(dig(r.props, "spec", "config")),
    });
  }
  return out;
}

export { versionAtLeast } from "../../render/kubevirt";
