import * as k8s from "@pulumi/kubernetes";
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import type { DevicePluginConfigMap } from "../render/devicePlugin";
import {
  AGENT_OBJECTS,
  AGENT_TOLERATIONS,
  awaitAnnotations,
  CONFIG_HASH_ANNOTATION,
  NODE_COUNT_ANNOTATION,
  PART_OF,
  SRIOV_NODE_LABEL,
  VF_HASH_ANNOTATION,
} from "../config/labels";
import { childName } from "../config/names";
import { TOKENS } from "./tokens";

export interface SriovDevicePluginArgs {
  /** The agent namespace the objects go in (required). */
  namespace: string;
  /** The agent's image, pinned and mirror-aware (required). */
  image: string;
  /**
   * The ConfigMap content. Its files are known only after node preparation when nodes choose
   * PFs by NIC selector (render/devicePlugin.ts); the nodes that get the plugin are known before.
   * Required.
   */
  config: Pick<DevicePluginConfigMap, "nodes"> & {
    [K in "data" | "configFile" | "hash"]: pulumi.Input<DevicePluginConfigMap[K]>;
  };
  /** Fingerprints of the VFs each prepared node ended up with: pods roll when they change (required). */
  vfFingerprints: pulumi.Input<string>[];
  /** Wait for the workloads to become ready (required; false where no kubelet runs). */
  waitForReadiness: boolean;
}

/**
 * SR-IOV network device plugin: config, service account and DaemonSet on SR-IOV nodes.
 *
 * Follows upstream's `deployments/sriovdp-daemonset.yaml` at the pinned tag (v3.11.0): the same
 * container, args, privileges, volumes and mounts. Deliberate differences:
 * - `--config-file`: one file per node when nodes differ (`$(NODE_NAME).json`, as the SR-IOV
 *   network operator does), upstream's default /etc/pcidp/config.json otherwise; the ConfigMap
 *   volume then projects every key instead of only config.json;
 * - placement: only on nodes this stack prepared and labelled (`nodeSelector`) AND that have a
 *   resource in the config (node affinity on `metadata.name`): the plugin exits at start when its
 *   file is missing or empty, so no node may run it without one;
 * - tolerations and `priorityClassName: system-node-critical`: VMs on tainted nodes need their
 *   VFs advertised, and eviction would withdraw them (upstream tolerates nothing);
 * - pod template annotations with the config and VF hashes: the plugin reads both only at start;
 * - namespace `agentNamespace`, a pinned mirror-aware image (upstream: `:latest`), our labels;
 * - `DirectoryOrCreate` as upstream only for device-info; the kubelet paths must exist already;
 * - `automountServiceAccountToken: false`: the plugin never calls the API server (v3.11.0 imports
 *   no client-go; it registers with the kubelet over the unix socket in the device-plugins dir,
 *   pkg/resources/server.go:82-83, and writes device info to files), so the token upstream
 *   mounts would only be there to steal. The service account stays, as upstream names it.
 * test/unit/agents-upstream.test.ts holds upstream's values and fails on any other difference.
 */
export class SriovDevicePlugin extends pulumi.ComponentResource {
  public readonly configMapName: pulumi.Output<string>;
  public readonly daemonSetName: pulumi.Output<string | null>;
  public readonly image: pulumi.Output<string>;
  /** Absent when no node has a VF in any pool: the plugin would only exit at start. */
  public readonly daemonSet?: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: SriovDevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.devicePlugin, name, {}, opts);
    const parent = { parent: this };
    const ns = args.namespace;
    const labels = { ...PART_OF, app: "sriovdp", tier: "node" };

    const cm = new k8s.core.v1.ConfigMap(
      childName(name, "config"),
      {
        metadata: {
          name: AGENT_OBJECTS.devicePluginConfigMap,
          namespace: ns,
          labels,
          annotations: { [NODE_COUNT_ANNOTATION]: String(args.config.nodes.length) },
        },
        data: args.config.data,
      },
      parent,
    );
    const sa = new k8s.core.v1.ServiceAccount(
      childName(name, "sa"),
      { metadata: { name: "sriov-device-plugin", namespace: ns, labels } },
      parent,
    );

    const vfHash = pulumi
      .all(args.vfFingerprints)
      .apply((fps) => createHash("sha256").update(fps.join(",")).digest("hex").slice(0, 16));

    const servedNodes = args.config.nodes;
    this.daemonSet =
      servedNodes.length === 0
        ? undefined
        : new k8s.apps.v1.DaemonSet(
            childName(name, "ds"),
            {
              metadata: {
                name: AGENT_OBJECTS.devicePluginDaemonSet,
                namespace: ns,
                labels,
                annotations: awaitAnnotations(args.waitForReadiness),
              },
              spec: {
                selector: { matchLabels: { name: "sriov-device-plugin" } },
                updateStrategy: { type: "RollingUpdate" },
                template: {
                  metadata: {
                    labels: { ...labels, name: "sriov-device-plugin" },
                    annotations: { [CONFIG_HASH_ANNOTATION]: args.config.hash, [VF_HASH_ANNOTATION]: vfHash },
                  },
                  spec: {
                    hostNetwork: true,
                    nodeSelector: { [SRIOV_NODE_LABEL]: "true", "kubernetes.io/os": "linux" },
                    affinity: {
                      nodeAffinity: {
                        // One term per node (terms are ORed): the API server allows a single value
                        // in a `metadata.name` field selector, as the DaemonSet controller writes it too.
                        requiredDuringSchedulingIgnoredDuringExecution: {
                          nodeSelectorTerms: servedNodes.map((n) => ({
                            matchFields: [{ key: "metadata.name", operator: "In", values: [n] }],
                          })),
                        },
                      },
                    },
                    tolerations: AGENT_TOLERATIONS,
                    serviceAccountName: sa.metadata.name,
                    automountServiceAccountToken: false,
                    priorityClassName: "system-node-critical",
                    containers: [
                      {
                        name: "kube-sriovdp",
                        image: args.image,
                        imagePullPolicy: "IfNotPresent",
                        args: [
                          "--log-dir=sriovdp",
                          "--log-level=10",
                          pulumi.interpolate`--config-file=${args.config.configFile}`,
                        ],
                        env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                        securityContext: { privileged: true },
                        resources: { requests: { cpu: "250m", memory: "40Mi" }, limits: { cpu: "1", memory: "200Mi" } },
                        volumeMounts: [
                          { name: "devicesock", mountPath: "/var/lib/kubelet/device-plugins" },
                          { name: "plugins-registry", mountPath: "/var/lib/kubelet/plugins_registry" },
                          { name: "log", mountPath: "/var/log" },
                          { name: "config-volume", mountPath: "/etc/pcidp" },
                          { name: "device-info", mountPath: "/var/run/k8s.cni.cncf.io/devinfo/dp" },
                        ],
                      },
                    ],
                    volumes: [
                      { name: "devicesock", hostPath: { path: "/var/lib/kubelet/device-plugins" } },
                      { name: "plugins-registry", hostPath: { path: "/var/lib/kubelet/plugins_registry" } },
                      { name: "log", hostPath: { path: "/var/log" } },
                      {
                        name: "device-info",
                        hostPath: { path: "/var/run/k8s.cni.cncf.io/devinfo/dp", type: "DirectoryOrCreate" },
                      },
                      { name: "config-volume", configMap: { name: cm.metadata.name } },
                    ],
                  },
                },
              },
            },
            parent,
          );

    this.configMapName = cm.metadata.name;
    this.daemonSetName = this.daemonSet ? this.daemonSet.metadata.name : pulumi.output(null);
    this.image = pulumi.output(args.image);
    this.registerOutputs({ configMapName: this.configMapName, daemonSetName: this.daemonSetName, image: this.image });
  }
}
