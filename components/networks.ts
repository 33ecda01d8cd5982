import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { NetworkModel } from "../config/model";
import { keyedChildName, previousChildName, renamedFrom } from "../config/names";
import { renderNad } from "../render/nad";
import type { NetworkOutput } from "../render/outputs";
import { PART_OF } from "../config/labels";
import { TOKENS } from "./tokens";

export interface SriovNetworksArgs {
  /** The SR-IOV networks, one NAD each (required; may be empty). */
  networks: readonly NetworkModel[];
}

/** One NetworkAttachmentDefinition per SR-IOV network. */
export class SriovNetworks extends pulumi.ComponentResource {
  public readonly networks: pulumi.Output<NetworkOutput[]>;
  public readonly nads: k8s.apiextensions.CustomResource[];

  constructor(name: string, args: SriovNetworksArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.networks, name, {}, opts);
    this.nads = args.networks.map((net) => {
      const doc = renderNad(net);
      const nadName = keyedChildName.nad(name, net.config);
      return new k8s.apiextensions.CustomResource(
        nadName,
        {
          apiVersion: "k8s.cni.cncf.io/v1",
          kind: "NetworkAttachmentDefinition",
          metadata: { ...doc.metadata, labels: PART_OF },
          spec: doc.spec,
        },
        {
          parent: this,
          aliases: renamedFrom(previousChildName(name, [net.config.namespace, net.config.name]), nadName),
        },
      );
    });
    this.networks = pulumi.output(
      args.networks.map((n) => ({
        ref: n.ref,
        namespace: n.config.namespace,
        name: n.config.name,
        resourceName: n.pool.resource,
        vlan: n.config.vlan,
      })),
    );
    this.registerOutputs({ networks: this.networks });
  }
}
