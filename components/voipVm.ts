// One VoIP VM (PBX, load generator or custom) as a KubeVirt VirtualMachine or
// VirtualMachineInstance, with its cloud-init Secret when the documents are too large to go
// inline. Everything it sends is rendered by the pure functions in render/.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformModel, VmModel } from "../config/model";
import { awaitAnnotations } from "../config/labels";
import { aliasNames, childName } from "../config/names";
import { renderNetworkData, renderUserData } from "../render/cloudInit";
import { renderVmOutput, VoipVmOutput } from "../render/outputs";
import { CLOUD_INIT_HASH_ANNOTATION, placeCloudInit, renderVmObject, vmLabels } from "../render/vmSpec";
import { TOKENS } from "./tokens";

export interface VoipVmArgs {
  /** The VM's validated config and derived settings (required). */
  vm: VmModel;
  /** The whole platform (required): a VM's cloud-init reads the networks, pools and registry mirror. */
  model: PlatformModel;
  /** The custom user data was set with --secret: nothing derived from it may show in plaintext (default false). */
  secretUserData?: boolean;
}

/** Annotations with the cloud-init hash made secret (a hash of secret user data is not public). */
function secretHash(annotations: Record<string, string> | undefined): Record<string, pulumi.Input<string>> | undefined {
  const hash = annotations?.[CLOUD_INIT_HASH_ANNOTATION];
  return hash === undefined ? annotations : { ...annotations, [CLOUD_INIT_HASH_ANNOTATION]: pulumi.secret(hash) };
}

export class VoipVm extends pulumi.ComponentResource {
  /** The KubeVirt object (VirtualMachine or VirtualMachineInstance). */
  public readonly vm: k8s.apiextensions.CustomResource;
  /** Present when a cloud-init document exceeds KubeVirt's inline limit. */
  public readonly cloudInitSecret?: k8s.core.v1.Secret;
  // What the stack exports for the VM (VoipVmOutput, renderVmOutput), one field each; known from
  // the config alone, so previews show them too.
  public readonly vmName: pulumi.Output<string>;
  public readonly namespace: pulumi.Output<string>;
  public readonly kind: pulumi.Output<VoipVmOutput["kind"]>;
  public readonly role: pulumi.Output<VoipVmOutput["role"]>;
  public readonly nodeSelector: pulumi.Output<Record<string, string>>;
  public readonly sriovInterfaces: pulumi.Output<VoipVmOutput["sriovInterfaces"]>;
  public readonly management: pulumi.Output<VoipVmOutput["management"]>;
  /** PBX only (undefined otherwise). */
  public readonly sipUri: pulumi.Output<string | undefined>;
  /** Load generator only (undefined otherwise). */
  public readonly loadTest: pulumi.Output<VoipVmOutput["loadTest"]>;

  constructor(name: string, args: VoipVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.voipVm, name, {}, opts);
    const { vm, model } = args;
    const secret = args.secretUserData ?? false;

    let userData: string;
    try {
      userData = renderUserData(vm, model);
    } catch (e) {
      throw new pulumi.ResourceError(`VM ${vm.ref}: ${e instanceof Error ? e.message : String(e)}`, this);
    }
    const networkData = renderNetworkData(vm);
    const object = renderVmObject(vm, userData, networkData, { registryMirror: model.config.registryMirror });
    const placement = placeCloudInit(vm, userData, networkData);
    // A renamed VM (its aliases) renamed its children too: each answers to its old name.
    const child = (role: string) => ({
      name: childName(name, role),
      aliases: aliasNames(opts?.aliases).map((n) => ({ name: childName(n, role) })),
    });
    const secretName = child("cloudinit");
    const vmName = child("vm");

    if (placement.secret !== undefined) {
      this.cloudInitSecret = new k8s.core.v1.Secret(
        secretName.name,
        {
          metadata: { name: placement.secret.name, namespace: placement.secret.namespace, labels: vmLabels(vm) },
          type: "Opaque",
          stringData: placement.secret.stringData,
        },
        { parent: this, aliases: secretName.aliases },
      );
    }

    this.vm = new k8s.apiextensions.CustomResource(
      vmName.name,
      {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: {
          name: vm.config.name,
          namespace: vm.config.namespace,
          labels: object.metadata?.labels,
          // A VM's readiness depends on VFs, hugepages and image pulls; the stack does not wait on it.
          annotations: {
            ...(secret ? secretHash(object.metadata?.annotations) : object.metadata?.annotations),
            ...awaitAnnotations(false),
          },
        },
        // A VirtualMachine carries the hash in its template: the spec is then secret as a whole (the
        // SDK cannot keep one nested value of a custom resource's spec secret).
        spec: secret && object.kind === "VirtualMachine" ? pulumi.secret(object.spec) : object.spec,
      },
      {
        parent: this,
        dependsOn: this.cloudInitSecret !== undefined ? [this.cloudInitSecret] : [],
        aliases: vmName.aliases,
      },
    );

    const out = renderVmOutput(vm, model);
    this.vmName = pulumi.output(out.name);
    this.namespace = pulumi.output(out.namespace);
    this.kind = pulumi.output(out.kind);
    this.role = pulumi.output(out.role);
    this.nodeSelector = pulumi.output(out.nodeSelector);
    this.sriovInterfaces = pulumi.output(out.sriovInterfaces);
    this.management = pulumi.output(out.management);
    this.sipUri = pulumi.output(out.sipUri);
    this.loadTest = pulumi.output(out.loadTest);
    this.registerOutputs({
      vmName: this.vmName,
      namespace: this.namespace,
      kind: this.kind,
      role: this.role,
      nodeSelector: this.nodeSelector,
      sriovInterfaces: this.sriovInterfaces,
      management: this.management,
      sipUri: this.sipUri,
      loadTest: this.loadTest,
    });
  }
}
