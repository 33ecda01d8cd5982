// What a consumer of a stack reads (through a StackReference): exported, typed.
import type * as pulumi from "@pulumi/pulumi";
import type { PlatformModel } from "../config/model";
import type { Plan } from "../plan";
import type { NetworkOutput } from "./networks";
import type { NodePrepOutput } from "./platform";
import type { InjectorOutput } from "./injector";
import type { VoipVmOutput } from "./voipVm";
import { agentImages, AgentImages } from "../render/images";

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

/** The same, as the program returns it (values may still be Outputs). */
export type StackOutputsInput = { [K in keyof StackOutputs]: pulumi.Input<StackOutputs[K]> };
