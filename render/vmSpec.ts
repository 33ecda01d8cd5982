// The KubeVirt objects of a VoIP VM, typed with KubeVirt's own API types: a management NIC
// on the pod network, one SR-IOV NIC per configured interface, a container disk, the
// cloud-init disk, and the latency tuning from vm.config.tuning.
import { createHash } from "crypto";
import type {
  V1CloudInitNoCloudSource,
  V1CPU,
  V1Disk,
  V1DomainSpec,
  V1Interface,
  V1Network,
  V1ResourceRequirements,
  V1VirtualMachine,
  V1VirtualMachineInstance,
  V1VirtualMachineInstanceSpec,
  V1Volume,
} from "@kubevirt-ui-ext/kubevirt-api/kubevirt";
import { PART_OF_LABEL } from "../config/labels";
import type { VmModel } from "../config/model";
import { planGuestNics } from "./guestNics";
import { mirrorImage } from "./images";

export const KUBEVIRT_API_VERSION = "kubevirt.io/v1";
export const ROLE_LABEL = "kubevirt-sriov/role";
/** Node label KubeVirt's node labeller sets where the kubelet's static CPU manager runs. */
export const CPU_MANAGER_LABEL = "kubevirt.io/cpumanager";
/** Hash of the cloud-init documents: a change shows in the VM spec even when they live in a Secret. */
export const CLOUD_INIT_HASH_ANNOTATION = "kubevirt-sriov/cloud-init-sha256";
/**
 * KubeVirt's admission webhook refuses inline (and base64) userData or networkData above
 * 2048 bytes (cloudInitUserMaxLen, cloudInitNetworkMaxLen) and asks for a Secret instead.
 */
export const CLOUD_INIT_INLINE_LIMIT = 2048;
/** Secret keys KubeVirt reads for NoCloud data. */
export const USERDATA_KEY = "userdata";
export const NETWORKDATA_KEY = "networkdata";

const CONTAINER_DISK = "containerdisk";
const CLOUD_INIT_DISK = "cloudinitdisk";

export interface RenderOptions {
  /** Registry mirror the container disk is pulled from (platform.registryMirror). */
  registryMirror?: string;
}

export interface CloudInitSecret {
  name: string;
  namespace: string;
  /** Only the documents too large to go inline. */
  stringData: Partial<Record<typeof USERDATA_KEY | typeof NETWORKDATA_KEY, string>>;
}

export interface CloudInitPlacement {
  source: V1CloudInitNoCloudSource;
  secret?: CloudInitSecret;
}

export type VoipVmObject =
  | (V1VirtualMachine & { apiVersion: typeof KUBEVIRT_API_VERSION; kind: "VirtualMachine" })
  | (V1VirtualMachineInstance & { apiVersion: typeof KUBEVIRT_API_VERSION; kind: "VirtualMachineInstance" });

export function cloudInitSecretName(vm: VmModel): string {
  return `${vm.config.name}-cloudinit`;
}

const fitsInline = (text: string) => Buffer.byteLength(text, "utf8") <= CLOUD_INIT_INLINE_LIMIT;

/**
 * Each document goes inline when KubeVirt accepts it there, else into the VM's Secret. Custom
 * user data always goes into the Secret: it is the user's own document and may carry
 * credentials, which must not sit in the VM spec, the state or a diff.
 */
export function placeCloudInit(vm: VmModel, userData: string, networkData: string): CloudInitPlacement {
  const source: V1CloudInitNoCloudSource = {};
  const stringData: CloudInitSecret["stringData"] = {};
  const name = cloudInitSecretName(vm);
  if (fitsInline(userData) && vm.config.role !== "custom") source.userData = userData;
  else {
    source.secretRef = { name };
    stringData[USERDATA_KEY] = userData;
  }
  if (fitsInline(networkData)) source.networkData = networkData;
  else {
    source.networkDataSecretRef = { name };
    stringData[NETWORKDATA_KEY] = networkData;
  }
  const placement: CloudInitPlacement = { source };
  if (Object.keys(stringData).length > 0) placement.secret = { name, namespace: vm.config.namespace, stringData };
  return placement;
}

export function vmLabels(vm: VmModel): Record<string, string> {
  return { [PART_OF_LABEL]: "kubevirt-sriov", [ROLE_LABEL]: vm.config.role };
}

export function cloudInitHash(userData: string, networkData: string): string {
  return createHash("sha256").update(userData).update("\0").update(networkData).digest("hex");
}

function cpuSpec(vm: VmModel): V1CPU {
  const t = vm.config.tuning;
  const cpu: V1CPU = {
    cores: vm.config.cpus,
    model: t.cpuModel,
    dedicatedCpuPlacement: t.dedicatedCpus,
    isolateEmulatorThread: t.isolateEmulatorThread,
  };
  if (t.numaPassthrough) cpu.numa = { guestMappingPassthrough: {} };
  return cpu;
}

/** Dedicated CPUs need the Guaranteed QoS class: requests equal limits, whole CPUs. */
function resources(vm: VmModel): V1ResourceRequirements {
  const memory = vm.config.memory;
  if (!vm.config.tuning.dedicatedCpus) return { requests: { memory } };
  const cpu = String(vm.config.cpus);
  return { requests: { cpu, memory }, limits: { cpu, memory } };
}

export function nodeSelectorFor(vm: VmModel): Record<string, string> {
  const selector = { ...vm.config.nodeSelector };
  if (vm.config.tuning.dedicatedCpus) selector[CPU_MANAGER_LABEL] = "true";
  return selector;
}

export function renderVmiSpec(
  vm: VmModel,
  userData: string,
  networkData: string,
  options: RenderOptions = {},
): V1VirtualMachineInstanceSpec {
  const t = vm.config.tuning;
  const nics = planGuestNics(vm);
  const interfaces: V1Interface[] = [
    { name: nics.management.name, masquerade: {}, macAddress: nics.management.mac },
    ...nics.sriov.map((n): V1Interface => ({ name: n.name, sriov: {}, macAddress: n.mac })),
  ];
  const networks: V1Network[] = [
    { name: nics.management.name, pod: {} },
    ...nics.sriov.map((n): V1Network => ({ name: n.name, multus: { networkName: n.networkRef } })),
  ];
  const disks: V1Disk[] = [
    { name: CONTAINER_DISK, disk: { bus: "virtio" }, bootOrder: 1 },
    { name: CLOUD_INIT_DISK, disk: { bus: "virtio" } },
  ];
  const volumes: V1Volume[] = [
    { name: CONTAINER_DISK, containerDisk: { image: mirrorImage(vm.image, options.registryMirror) } },
    { name: CLOUD_INIT_DISK, cloudInitNoCloud: placeCloudInit(vm, userData, networkData).source },
  ];
  const domain: V1DomainSpec = {
    cpu: cpuSpec(vm),
    resources: resources(vm),
    devices: {
      autoattachMemBalloon: t.memBalloon,
      autoattachGraphicsDevice: t.graphics,
      disks,
      interfaces,
    },
  };
  if (t.hugepages !== "none") domain.memory = { hugepages: { pageSize: t.hugepages } };
  if (t.ioThreads !== "none") domain.ioThreadsPolicy = t.ioThreads;

  const spec: V1VirtualMachineInstanceSpec = { domain, networks, volumes };
  const selector = nodeSelectorFor(vm);
  if (Object.keys(selector).length > 0) spec.nodeSelector = selector;
  return spec;
}

export function renderVmObject(
  vm: VmModel,
  userData: string,
  networkData: string,
  options: RenderOptions = {},
): VoipVmObject {
  const spec = renderVmiSpec(vm, userData, networkData, options);
  const labels = vmLabels(vm);
  const annotations = { [CLOUD_INIT_HASH_ANNOTATION]: cloudInitHash(userData, networkData) };
  const meta = { name: vm.config.name, namespace: vm.config.namespace };
  if (vm.config.kind === "VirtualMachineInstance") {
    return {
      apiVersion: KUBEVIRT_API_VERSION,
      kind: "VirtualMachineInstance",
      metadata: { ...meta, labels, annotations },
      spec,
    };
  }
  return {
    apiVersion: KUBEVIRT_API_VERSION,
    kind: "VirtualMachine",
    metadata: { ...meta, labels },
    spec: {
      runStrategy: "Always",
      template: { metadata: { labels, annotations }, spec },
    },
  };
}
