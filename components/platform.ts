import * as pulumi from "@pulumi/pulumi";
import { formatProblem } from "../config/errors";
import { PlatformModel, usesSelectors } from "../config/model";
import { childName, keyedChildName, previousChildName, renamedFrom } from "../config/names";
import { configPath } from "../config/validate";
import { DiscoveredNode, Plan, planPlatform } from "../plan";
import { devicePluginNodes, renderDevicePluginConfigMap } from "../render/devicePlugin";
import { agentImages, whereaboutsImage } from "../render/images";
import { gateDemand } from "../config/kubevirtGates";
import { renderNodeState } from "../render/nodePlan";
import { InjectorOutput, NetworkOutput, NodePrepOutput, renderVmOutput, VoipVmOutput } from "../render/outputs";
import { usesWhereabouts } from "../render/whereabouts";
import { SriovDevicePlugin, SriovDevicePluginArgs } from "./devicePlugin";
import { NetworkResourcesInjector } from "./injector";
import { withHostKeys } from "./hostKeys";
import { Kubevirt } from "./kubevirt";
import { Multus } from "./multus";
import { SriovNetworks } from "./networks";
import { NodeLabels } from "./nodeLabels";
import { NodeConnection, SriovNodePrep } from "./nodePrep";
import { SriovCni } from "./sriovCni";
import { VoipVm } from "./voipVm";
import { Whereabouts } from "./whereabouts";
import { TOKENS } from "./tokens";

export interface SriovPlatformArgs {
  /** The validated config with everything derived from it (required). */
  model: PlatformModel;
  /** Checked operator manifest text (required; loadOperatorManifest). */
  kubevirtOperatorManifest: string;
  /** SSH connection per node name; private keys and passwords are secret Outputs (required). */
  connections: ReadonlyMap<string, NodeConnection>;
  /** VMs (index in model.vms) whose custom user data was set with --secret (default: none). */
  secretUserData?: ReadonlySet<number>;
  /** The clock for certificate renewal (the injector's); default: now. */
  now?: Date;
}

/**
 * The whole stack for one cluster: node preparation, node agents, KubeVirt, the SR-IOV
 * networks and the VoIP VMs, in the order the cluster needs them.
 */
export class SriovPlatform extends pulumi.ComponentResource {
  public readonly nodes: pulumi.Output<NodePrepOutput[]>;
  public readonly networks: pulumi.Output<NetworkOutput[]>;
  public readonly vms: pulumi.Output<VoipVmOutput[]>;
  public readonly networkResourcesInjector: pulumi.Output<InjectorOutput | null>;
  /** The plan again, now with what node preparation found (NUMA nodes, MTUs, VF limits). */
  public readonly discoveredPlan: pulumi.Output<Plan>;

  constructor(name: string, args: SriovPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.platform, name, {}, opts);
    const parent = { parent: this };
    const { model } = args;
    const cfg = model.config;
    const images = agentImages(cfg);
    const ns = cfg.agentNamespace;
    const wait = cfg.waitForReadiness;

    // Nodes are prepared in parallel: no prep depends on another.
    const hostKeys: pulumi.Output<[string, string | null]>[] = [];
    const preps = model.nodes.map((n) => {
      const pinned = args.connections.get(n.config.name);
      if (!pinned) throw new pulumi.ResourceError(`no SSH connection for node ${n.config.name}`, this);
      const prepName = keyedChildName.nodePrep(name, n.config.name);
      const state = renderNodeState(n);
      // A decommissioned node is never dialled again, so its key is not checked either.
      const pinPaths = { hostKey: configPath(n.source.hostKey), bastionHostKey: configPath(n.source.bastionHostKey) };
      const connection = n.config.decommissioned
        ? pinned
        : withHostKeys(name, pinPaths, n.config.name, pinned, state, this);
      hostKeys.push(pulumi.all([connection.hostKey ?? "", connection.proxy ? (connection.proxy.hostKey ?? "") : null]));
      return new SriovNodePrep(prepName, { state, connection, decommissioned: n.config.decommissioned }, parent);
    });
    const labels = new NodeLabels(
      childName(name, "labels"),
      {
        nodes: model.nodes.map((n) => ({ name: n.config.name, labels: n.config.labels })),
      },
      { ...parent, dependsOn: preps },
    );

    const multus = new Multus(
      childName(name, "multus"),
      { namespace: ns, image: images.multus, waitForReadiness: wait },
      parent,
    );
    const devicePlugin = new SriovDevicePlugin(
      childName(name, "dp"),
      {
        namespace: ns,
        image: images.sriovDevicePlugin,
        config: devicePluginConfig(model, preps),
        vfFingerprints: preps.map((p) => p.vfFingerprint),
        waitForReadiness: wait,
      },
      { ...parent, dependsOn: [...preps, labels] },
    );
    new SriovCni(
      childName(name, "cni"),
      { namespace: ns, image: images.sriovCni, waitForReadiness: wait },
      { ...parent, dependsOn: [labels] },
    );
    // The IPAM plugin a network names must be on the nodes before its NAD exists; only then.
    const whereabouts = usesWhereabouts(model.networks.values())
      ? new Whereabouts(
          childName(name, "whereabouts"),
          { namespace: ns, image: whereaboutsImage(cfg), waitForReadiness: wait },
          {
            ...parent,
            dependsOn: [multus.crd, labels],
          },
        )
      : undefined;

    const kubevirt = new Kubevirt(
      childName(name, "kubevirt"),
      {
        config: cfg.kubevirt,
        operatorManifest: args.kubevirtOperatorManifest,
        registryMirror: cfg.registryMirror,
        gateDemand: gateDemand(model),
        waitForReadiness: wait,
      },
      parent,
    );

    const networks = new SriovNetworks(
      childName(name, "net"),
      { networks: [...model.networks.values()] },
      {
        ...parent,
        dependsOn: [multus.crd, devicePlugin, ...(whereabouts ? [whereabouts] : [])],
      },
    );

    // With the injection gate on, a VM's launcher pod gets its VF only through the webhook, so
    // the webhook must be serving before any VM exists (and go away only after them).
    const nri = cfg.kubevirt.networkResourcesInjector;
    const injector = nri
      ? new NetworkResourcesInjector(
          childName(name, "network-resources-injector"),
          {
            namespace: ns,
            image: images.networkResourcesInjector,
            settings: nri,
            placement: cfg.kubevirt.infra,
            waitForReadiness: wait,
            now: args.now ?? new Date(),
          },
          { ...parent, dependsOn: [multus.crd] },
        )
      : undefined;

    model.vms.forEach((vm, i) => {
      const vmName = keyedChildName.vm(name, vm.config);
      new VoipVm(
        vmName,
        {
          vm,
          model,
          secretUserData: args.secretUserData?.has(i) ?? false,
        },
        {
          ...parent,
          dependsOn: [kubevirt.cr, ...networks.nads, ...(injector ? [injector.webhookConfiguration] : [])],
          aliases: renamedFrom(previousChildName(name, "vm", [vm.config.namespace, vm.config.name]), vmName),
        },
      );
    });

    this.nodes = pulumi
      .all(
        preps.map((p, i) =>
          pulumi
            .all([p.vfioReady, p.vfioConflicts, p.kernelChanges, p.physicalFunctions, hostKeys[i], p.report])
            .apply(([vfioReady, vfioConflicts, kernelChanges, pfs, [hostKey, bastionHostKey], report]) => {
              const out: Omit<NodePrepOutput, "node"> = {
                vfioReady,
                vfioConflicts,
                kernelChanges,
                physicalFunctions: pfs,
                hostKey,
                bastionHostKey,
              };
              // Only where they say something: a fleet's state grows with every byte per node.
              const profile = model.nodes[i].source.profile;
              if (profile !== undefined) out.profile = profile;
              if (report.resolved.length > 0) out.resolvedPfs = report.resolved;
              return out;
            }),
        ),
      )
      .apply((list) => list.map((o, i) => ({ node: model.nodes[i].config.name, ...o })));
    this.discoveredPlan = pulumi.all(preps.map((p) => p.report)).apply((reports) => {
      const discovery = new Map<string, DiscoveredNode>(
        reports.map((r) => [
          r.node,
          {
            pfs: r.pfs.map((pf) => ({
              ...(pf.name ? { name: pf.name } : {}),
              pciAddress: pf.pciAddress,
              numaNode: pf.numaNode,
              totalVfs: pf.totalVfs,
              ...(pf.mtu !== null ? { mtu: pf.mtu } : {}),
            })),
            resolved: r.resolved,
          },
        ]),
      );
      const plan = planPlatform(model, discovery);
      // The nodes are already prepared: what discovery reveals is reported, not undone.
      for (const w of plan.warnings) pulumi.log.warn(w, this);
      for (const e of plan.errors) pulumi.log.warn(formatProblem(model.root, e), this);
      return plan;
    });
    this.networks = networks.networks;
    // Each VM's summary follows from the config alone (as its component's fields do).
    this.vms = pulumi.output(model.vms.map((vm) => renderVmOutput(vm, model)));
    const i = injector;
    this.networkResourcesInjector = i
      ? pulumi
          .all([i.namespace, i.image, i.webhookConfigurationName, i.certificateNotAfter, i.caNotAfter])
          .apply(([namespace, image, webhookConfiguration, certificateNotAfter, caNotAfter]) => ({
            namespace,
            image,
            webhookConfiguration,
            certificateNotAfter,
            caNotAfter,
          }))
      : pulumi.output(null);
    this.registerOutputs({
      nodes: this.nodes,
      networks: this.networks,
      vms: this.vms,
      networkResourcesInjector: this.networkResourcesInjector,
      discoveredPlan: this.discoveredPlan,
    });
  }
}

/**
 * The device plugin's ConfigMap: rendered from the config alone, or, when nodes choose PFs by
 * NIC selector, from what node preparation resolved on each node (the plugin's nodes are known
 * either way).
 */
function devicePluginConfig(model: PlatformModel, preps: readonly SriovNodePrep[]): SriovDevicePluginArgs["config"] {
  if (!usesSelectors(model)) return renderDevicePluginConfigMap(model);
  const rendered = pulumi
    .all(preps.map((p) => p.report))
    .apply((reports) =>
      renderDevicePluginConfigMap(model, new Map(reports.map((r, i) => [model.nodes[i].config.name, r.resolved]))),
    );
  return {
    nodes: devicePluginNodes(model),
    data: rendered.apply((c) => c.data),
    configFile: rendered.apply((c) => c.configFile),
    hash: rendered.apply((c) => c.hash),
  };
}
