// What a consumer of a stack reads (through a StackReference): the exported outputs' types,
// and the parts that follow from the config alone. Pure: the components fill in the rest.
import type { PlatformModel, VmModel } from "../config/model";
import type { Plan } from "../plan";
import { asteriskSettingsFor } from "./asterisk";
import { LOADTEST_SCRIPT } from "./cloudInit";
import type { ResolvedPf } from "./devicePlugin";
import { planGuestNics } from "./guestNics";
import { agentImages, AgentImages } from "./images";
import { sippRunFor, STATS_FILE } from "./sipp";
import { nodeSelectorFor } from "./vmSpec";

export interface NetworkOutput {
  /** `<namespace>/<name>`, as VMs and pods reference it. */
  ref: string;
  namespace: string;
  name: string;
  /** Device-plugin resource the NAD requests, `<prefix>/<pool>`. */
  resourceName: string;
  vlan: number;
}

export interface NodePrepOutput {
  node: string;
  vfioReady: boolean;
  /** vfio-pci VFs in IOMMU groups shared with host-driver devices (empty when all is well). */
  vfioConflicts: string[];
  kernelChanges: string[];
  physicalFunctions: {
    name: string | null;
    pciAddress: string;
    numVfs: number;
    totalVfs: number;
    numaNode: number;
    drivers: string[];
  }[];
  /** The SSH host key node preparation checks: pinned in the stack, or recorded at first contact. */
  hostKey: string;
  /** The jump host's key, likewise (null without a jump host). */
  bastionHostKey: string | null;
  /** The profile the node takes its settings from (absent for a node written out in full). */
  profile?: string;
  /** What its NIC selectors matched: each PF with the selector's config path (absent without selectors). */
  resolvedPfs?: ResolvedPf[];
}

/** What a consumer reads about the injector. */
export interface InjectorOutput {
  namespace: string;
  image: string;
  webhookConfiguration: string;
  /** When the current serving certificate expires (ISO 8601); `pulumi up` renews it earlier. */
  certificateNotAfter: string;
  caNotAfter: string;
}

export interface VoipVmOutput {
  name: string;
  namespace: string;
  kind: "VirtualMachine" | "VirtualMachineInstance";
  role: "pbx" | "loadgen" | "custom";
  nodeSelector: Record<string, string>;
  sriovInterfaces: { network: string; mac: string; guestIp: string; guestInterface: string }[];
  management: { console: string; ssh: string };
  /** PBX only: what to dial. */
  sipUri?: string;
  /** Load generator only. */
  loadTest?: {
    /** Run inside the guest. */
    command: string;
    /** The same, from a workstation with virtctl. */
    viaVirtctl: string;
    /** SIPp statistics (CSV, ';'-separated) of the last run. */
    statsFile: string;
    /** What SIPp calls: the PBX's extension, address and port. */
    target: string;
  };
}

/** What the stack exports for a VM; follows from the config alone. */
export function renderVmOutput(vm: VmModel, model: PlatformModel): VoipVmOutput {
  const { name, namespace, kind, role, guestUser } = vm.config;
  // virtctl's current target syntax: [user@]vm|vmi/<name>[/<namespace>].
  const ssh = `virtctl ssh ${guestUser}@${kind === "VirtualMachine" ? "vm" : "vmi"}/${name}/${namespace}`;
  const out: VoipVmOutput = {
    name,
    namespace,
    kind,
    role,
    nodeSelector: nodeSelectorFor(vm),
    sriovInterfaces: planGuestNics(vm).sriov.map((n) => ({
      network: n.networkRef,
      mac: n.mac,
      guestIp: n.ip,
      guestInterface: n.name,
    })),
    management: { console: `virtctl console ${name} -n ${namespace}`, ssh },
  };
  if (role === "pbx") {
    const s = asteriskSettingsFor(vm);
    out.sipUri = `sip:${s.extension}@${s.bindIp}:${s.sipPort}`;
  }
  if (role === "loadgen") {
    const command = `sudo ${LOADTEST_SCRIPT}`;
    const run = sippRunFor(vm, model);
    out.loadTest = {
      command,
      viaVirtctl: `${ssh} --command '${command}'`,
      statsFile: STATS_FILE,
      target: `sip:${run.extension}@${run.remote.ip}:${run.remote.port}`,
    };
  }
  return out;
}

export interface ComponentVersions {
  multus: string;
  sriovDevicePlugin: string;
  sriovCni: string;
  networkResourcesInjector: string;
  kubevirt: string;
}

export interface PoolOutput {
  name: string;
  /** `<prefix>/<name>`: what VMs and pods request. */
  resourceName: string;
  /** VFs per node. */
  nodes: { node: string; vfs: number }[];
  vfCount: number;
}

export interface StaticOutputs {
  versions: ComponentVersions;
  images: AgentImages;
  pools: PoolOutput[];
  kubevirtNamespace: string;
}

/** The parts of the stack outputs that follow from the config alone. */
export function renderStaticOutputs(model: PlatformModel): StaticOutputs {
  const cfg = model.config;
  return {
    versions: { ...cfg.versions, kubevirt: cfg.kubevirt.version },
    images: agentImages(cfg),
    pools: [...model.pools.values()].map((p) => ({
      name: p.config.name,
      resourceName: p.resource,
      nodes: [...p.supplyByNode].map(([node, vfs]) => ({ node, vfs })),
      vfCount: p.supply,
    })),
    kubevirtNamespace: cfg.kubevirt.namespace,
  };
}

/** The complete stack outputs, as a StackReference consumer reads them. */
export interface StackOutputs extends StaticOutputs {
  networks: NetworkOutput[];
  nodes: NodePrepOutput[];
  vms: VoipVmOutput[];
  /** The network-resources-injector, when kubevirt.networkResourcesInjector deploys it. */
  networkResourcesInjector: InjectorOutput | null;
  /** The pre-flight plan from the config alone (known in preview). */
  plan: Plan;
  /** The plan re-run with what node preparation discovered. */
  discoveredPlan: Plan;
}
