import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  renderWhereaboutsConfigMap,
  renderWhereaboutsCrds,
  renderWhereaboutsDaemonSet,
  renderWhereaboutsReconciler,
  WHEREABOUTS,
  whereaboutsClusterRoleRules,
} from "../render/whereabouts";
import { awaitAnnotations, PART_OF } from "../config/labels";
import { childName } from "../config/names";
import { agentIdentity } from "./rbac";
import { TOKENS } from "./tokens";

export interface WhereaboutsArgs {
  /** The agent namespace: the workloads run there and the plugin keeps its IPPools there (required). */
  namespace: string;
  /** The agent's image, pinned and mirror-aware (required). */
  image: string;
  /** Wait for the workloads to become ready (required; false where no kubelet runs). */
  waitForReadiness: boolean;
}

/**
 * Whereabouts IPAM for networks with `ipam.type: whereabouts`: its CRDs (IPPool,
 * OverlappingRangeIPReservation), RBAC, the node DaemonSet that installs the plugin, and the
 * ip-reconciler. Every object belongs to the stack: removing the last such network (or
 * `pulumi destroy`) deletes them all, and deleting the CRDs deletes the pools the plugin wrote.
 */
export class Whereabouts extends pulumi.ComponentResource {
  public readonly daemonSetName: pulumi.Output<string>;
  public readonly reconcilerName: pulumi.Output<string>;
  public readonly crdNames: pulumi.Output<string[]>;
  public readonly image: pulumi.Output<string>;

  constructor(name: string, args: WhereaboutsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.whereabouts, name, {}, opts);
    const parent = { parent: this };
    const ns = args.namespace;
    const labels = { ...PART_OF, app: "whereabouts" };
    const workload = { namespace: ns, image: args.image };

    const crds = renderWhereaboutsCrds().map(
      (doc) =>
        new k8s.apiextensions.v1.CustomResourceDefinition(childName(name, doc.spec.names.plural, "crd"), doc, parent),
    );

    const { binding } = agentIdentity(
      name,
      {
        namespace: ns,
        labels,
        serviceAccount: WHEREABOUTS.serviceAccount,
        clusterRole: WHEREABOUTS.clusterRole,
        clusterRoleBinding: WHEREABOUTS.clusterRoleBinding,
        rules: whereaboutsClusterRoleRules(),
      },
      parent,
    );
    const config = new k8s.core.v1.ConfigMap(childName(name, "config"), renderWhereaboutsConfigMap(ns), parent);

    const ds = renderWhereaboutsDaemonSet(workload);
    const daemonSet = new k8s.apps.v1.DaemonSet(
      childName(name, "ds"),
      {
        metadata: { ...ds.metadata, annotations: awaitAnnotations(args.waitForReadiness) },
        spec: ds.spec,
      },
      { ...parent, dependsOn: [binding, ...crds] },
    );

    const rec = renderWhereaboutsReconciler(workload);
    const reconciler = new k8s.apps.v1.Deployment(
      childName(name, "reconciler"),
      {
        metadata: { ...rec.metadata, annotations: awaitAnnotations(args.waitForReadiness) },
        spec: rec.spec,
      },
      { ...parent, dependsOn: [binding, config, ...crds] },
    );

    this.daemonSetName = daemonSet.metadata.name;
    this.reconcilerName = reconciler.metadata.name;
    this.crdNames = pulumi.all(crds.map((c) => c.metadata.name));
    this.image = pulumi.output(args.image);
    this.registerOutputs({
      daemonSetName: this.daemonSetName,
      reconcilerName: this.reconcilerName,
      crdNames: this.crdNames,
      image: this.image,
    });
  }
}
