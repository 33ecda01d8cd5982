import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubevirtConfig } from "../config/schema";
import { effectiveDisabledGates, effectiveFeatureGates, type GateDemand } from "../config/kubevirtGates";
import { renderKubevirtCr } from "../render/kubevirt";
import { awaitAnnotations, PART_OF } from "../config/labels";
import { childName } from "../config/names";
import { TOKENS } from "./tokens";

export interface KubevirtArgs {
  /** The stack's `kubevirt` settings (required). */
  config: KubevirtConfig;
  /** The operator manifest, already checked against its SHA-256 (required; see loadOperatorManifest). */
  operatorManifest: string;
  /** Registry that mirrors KubeVirt's images (default: none, the upstream registry). */
  registryMirror?: string;
  /** What the VMs need that a feature gate controls (required; dedicated CPUs: CPUManager). */
  gateDemand: GateDemand;
  /** Wait for the operator's objects and the CR to become ready (required). */
  waitForReadiness: boolean;
}

/** KubeVirt: the operator from the pinned release manifest, then the KubeVirt CR. */
export class Kubevirt extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly version: pulumi.Output<string>;
  public readonly featureGates: pulumi.Output<string[]>;
  public readonly disabledFeatureGates: pulumi.Output<string[]>;
  /** The CR: VMs depend on it. */
  public readonly cr: k8s.apiextensions.CustomResource;

  constructor(name: string, args: KubevirtArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.kubevirt, name, {}, opts);
    const operator = new k8s.yaml.v2.ConfigGroup(
      childName(name, "operator"),
      {
        yaml: args.operatorManifest,
        skipAwait: !args.waitForReadiness,
      },
      { parent: this },
    );

    const cr = renderKubevirtCr(args.config, args.registryMirror, args.gateDemand);
    this.cr = new k8s.apiextensions.CustomResource(
      childName(name, "cr"),
      {
        apiVersion: cr.apiVersion,
        kind: cr.kind,
        metadata: {
          ...cr.metadata,
          labels: PART_OF,
          annotations: { ...cr.metadata.annotations, ...awaitAnnotations(args.waitForReadiness) },
        },
        spec: cr.spec,
      },
      { parent: this, dependsOn: [operator] },
    );

    this.namespace = pulumi.output(args.config.namespace);
    this.version = pulumi.output(args.config.version);
    this.featureGates = pulumi.output(effectiveFeatureGates(args.config, args.gateDemand));
    this.disabledFeatureGates = pulumi.output(effectiveDisabledGates(args.config));
    this.registerOutputs({
      namespace: this.namespace,
      version: this.version,
      featureGates: this.featureGates,
      disabledFeatureGates: this.disabledFeatureGates,
    });
  }
}
