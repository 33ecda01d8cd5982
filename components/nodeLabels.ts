import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labelsAfterUp, HOSTNAME_LABEL } from "../config/labels";
import { keyedChildName } from "../config/names";
import { TOKENS } from "./tokens";

export interface NodeLabelsArgs {
  /** Kubernetes node name → extra labels (required; the SR-IOV label is always set). */
  nodes: ReadonlyArray<{ name: string; labels: Record<string, string> }>;
}

/**
 * Labels the prepared nodes so the node agents land on them only. Server-side apply patches:
 * destroying them removes just these labels and leaves the Node alone.
 */
export class NodeLabels extends pulumi.ComponentResource {
  public readonly nodeNames: pulumi.Output<string[]>;

  constructor(name: string, args: NodeLabelsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.nodeLabels, name, {}, opts);
    for (const n of args.nodes) {
      // The same labels placement planned with; the kubelet owns the hostname label.
      const { [HOSTNAME_LABEL]: _kubeletOwns, ...labels } = labelsAfterUp(n);
      new k8s.core.v1.NodePatch(
        keyedChildName.nodeLabels(name, n.name),
        { metadata: { name: n.name, labels } },
        { parent: this },
      );
    }
    this.nodeNames = pulumi.output(args.nodes.map((n) => n.name));
    this.registerOutputs({ nodeNames: this.nodeNames });
  }
}
