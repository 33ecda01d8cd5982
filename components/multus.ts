import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { renderMultusDaemonConfig } from "../render/multus";
import { AGENT_IMAGE_LAYOUTS } from "../config/agentImages";
import { AGENT_OBJECTS, AGENT_TOLERATIONS, awaitAnnotations, PART_OF } from "../config/labels";
import { childName } from "../config/names";
import { agentIdentity } from "./rbac";
import { TOKENS } from "./tokens";

export interface MultusArgs {
  /** The agent namespace the objects go in (required). */
  namespace: string;
  /** The agent's image, pinned and mirror-aware (required). */
  image: string;
  /** Wait for the workloads to become ready (required; false where no kubelet runs). */
  waitForReadiness: boolean;
}

/**
 * The ClusterRole of the thick daemon: what multus-cni v4.3.0 calls (paths and lines at the tag).
 * - NADs get/list/watch: a NAD informer over all namespaces (pkg/server/server.go:169, started
 *   at :267) serves every lookup; `get` is the lookup without an informer
 *   (pkg/k8sclient/k8sclient.go:117) and shows nothing that `list` does not. No write:
 *   AddNetAttachDef (k8sclient.go:107) has no caller outside tests.
 * - pods get/list/watch: an informer on the node's pods (server.go:184, :266) and a live GET when
 *   the cache misses (pkg/multus/multus.go:717). No create/delete/update: AddPod and DeletePod
 *   (k8sclient.go:74, :102) have no caller outside tests.
 * - pods/status update: the network-status annotation, written with UpdateStatus after a GET
 *   (k8sclient.go:166 → network-attachment-definition-client pkg/utils/net-attach-def.go:87, :96).
 * - events create/patch: client-go's recorder on core/v1 Events (pkg/k8sclient/kubeconfig.go:244)
 *   creates an event or patches the aggregated one (client-go tools/record/event.go:334, :340);
 *   it never updates, and never writes events.k8s.io.
 */
export const MULTUS_RBAC_RULES = [
  { apiGroups: ["k8s.cni.cncf.io"], resources: ["network-attachment-definitions"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["pods/status"], verbs: ["update"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
];

/** Where the thick image keeps its binaries (images/Dockerfile.thick, see config/agentImages.ts). */
const MULTUS_BIN = AGENT_IMAGE_LAYOUTS.multus.binDir;

/**
 * Multus thick plugin: the NAD CRD, RBAC, daemon config and the node DaemonSet.
 *
 * Follows upstream's `deployments/multus-daemonset-thick.yml` at the pinned tag (v4.3.0): the same
 * init container, command, volumes, mounts, RBAC and daemon config. Deliberate differences:
 * - namespace: `agentNamespace` (upstream: kube-system), so one stack can keep its agents apart;
 * - image: pinned and mirror-aware (upstream: `:snapshot-thick`);
 * - labels: ours added (`app.kubernetes.io/part-of`, `managed-by`) so the objects are traceable;
 * - `priorityClassName: system-node-critical`: Multus carries every pod's network, so it must
 *   not be evicted before the pods it serves (upstream sets none);
 * - the NAD CRD is owned here (upstream ships it in the same file) with the same schema;
 * - the DaemonSet waits on RBAC and the CRD (`dependsOn`), which a plain `kubectl apply` cannot
 *   order;
 * - RBAC: only what the thick daemon calls (MULTUS_RBAC_RULES above, with where upstream's code
 *   makes each call); upstream also grants `*` on every kind of k8s.cni.cncf.io, `update` on
 *   pods and events, and events.k8s.io, none of which the daemon uses. The daemon keeps its
 *   service-account token: it is its API client (rest.InClusterConfig, kubeconfig.go:207).
 * test/unit/agents-upstream.test.ts holds upstream's values and fails on any other difference.
 */
export class Multus extends pulumi.ComponentResource {
  /** The NetworkAttachmentDefinition CRD: NADs depend on it. */
  public readonly crd: k8s.apiextensions.v1.CustomResourceDefinition;
  public readonly daemonSetName: pulumi.Output<string>;
  public readonly image: pulumi.Output<string>;

  constructor(name: string, args: MultusArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TOKENS.multus, name, {}, opts);
    const parent = { parent: this };
    const ns = args.namespace;
    const labels = { ...PART_OF, tier: "node", app: "multus", name: "multus" };

    this.crd = new k8s.apiextensions.v1.CustomResourceDefinition(
      childName(name, "nad-crd"),
      {
        metadata: { name: "network-attachment-definitions.k8s.cni.cncf.io", labels: PART_OF },
        spec: {
          group: "k8s.cni.cncf.io",
          scope: "Namespaced",
          names: {
            plural: "network-attachment-definitions",
            singular: "network-attachment-definition",
            kind: "NetworkAttachmentDefinition",
            shortNames: ["net-attach-def", "nad"],
          },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  description:
                    "NetworkAttachmentDefinition is a CRD schema specified by the Network Plumbing Working Group to express the intent for attaching pods to one or more logical or physical networks.",
                  type: "object",
                  properties: {
                    apiVersion: { type: "string" },
                    kind: { type: "string" },
                    metadata: { type: "object" },
                    spec: { type: "object", properties: { config: { type: "string" } } },
                  },
                },
              },
            },
          ],
        },
      },
      parent,
    );

    const { binding } = agentIdentity(
      name,
      { namespace: ns, labels, serviceAccount: "multus", rules: MULTUS_RBAC_RULES.map((r) => ({ ...r })) },
      parent,
    );
    const config = new k8s.core.v1.ConfigMap(
      childName(name, "daemon-config"),
      {
        metadata: { name: "multus-daemon-config", namespace: ns, labels },
        data: { "daemon-config.json": renderMultusDaemonConfig() },
      },
      parent,
    );

    const hostPath = (n: string, path: string, type?: string) => ({
      name: n,
      hostPath: type ? { path, type } : { path },
    });
    const ds = new k8s.apps.v1.DaemonSet(
      childName(name, "ds"),
      {
        metadata: {
          name: AGENT_OBJECTS.multusDaemonSet,
          namespace: ns,
          labels,
          annotations: awaitAnnotations(args.waitForReadiness),
        },
        spec: {
          selector: { matchLabels: { name: "multus" } },
          updateStrategy: { type: "RollingUpdate" },
          template: {
            metadata: { labels },
            spec: {
              hostNetwork: true,
              hostPID: true,
              tolerations: AGENT_TOLERATIONS,
              serviceAccountName: "multus",
              priorityClassName: "system-node-critical",
              terminationGracePeriodSeconds: 10,
              initContainers: [
                {
                  // The thick image keeps install_multus under /usr/src/multus-cni/bin/ (only the thin
                  // image has /install_multus); `-t thick` copies multus-shim and passthru to the host.
                  name: "install-multus-binary",
                  image: args.image,
                  command: [`${MULTUS_BIN}/install_multus`, "-d", "/host/opt/cni/bin", "-t", "thick"],
                  resources: { requests: { cpu: "10m", memory: "15Mi" } },
                  securityContext: { privileged: true },
                  terminationMessagePolicy: "FallbackToLogsOnError",
                  volumeMounts: [{ name: "cnibin", mountPath: "/host/opt/cni/bin", mountPropagation: "Bidirectional" }],
                },
              ],
              containers: [
                {
                  name: "kube-multus",
                  image: args.image,
                  command: [`${MULTUS_BIN}/multus-daemon`],
                  resources: { requests: { cpu: "100m", memory: "50Mi" }, limits: { cpu: "100m", memory: "50Mi" } },
                  securityContext: { privileged: true },
                  terminationMessagePolicy: "FallbackToLogsOnError",
                  env: [{ name: "MULTUS_NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                  volumeMounts: [
                    { name: "cni", mountPath: "/host/etc/cni/net.d" },
                    // The daemon runs the delegate CNI plugins from inside its container and expects
                    // them at the host's own path: without this every pod add fails ("failed to find
                    // plugin"), the primary network included.
                    { name: "cnibin", mountPath: "/opt/cni/bin" },
                    { name: "host-run", mountPath: "/host/run" },
                    { name: "host-var-lib-cni-multus", mountPath: "/var/lib/cni/multus" },
                    {
                      name: "host-var-lib-kubelet",
                      mountPath: "/var/lib/kubelet",
                      mountPropagation: "HostToContainer",
                    },
                    { name: "host-run-k8s-cni-cncf-io", mountPath: "/run/k8s.cni.cncf.io" },
                    { name: "host-run-netns", mountPath: "/run/netns", mountPropagation: "HostToContainer" },
                    { name: "multus-daemon-config", mountPath: "/etc/cni/net.d/multus.d", readOnly: true },
                    { name: "hostroot", mountPath: "/hostroot", mountPropagation: "HostToContainer" },
                    { name: "multus-conf-dir", mountPath: "/etc/cni/multus/net.d" },
                  ],
                },
              ],
              volumes: [
                hostPath("cni", "/etc/cni/net.d"),
                hostPath("cnibin", "/opt/cni/bin"),
                hostPath("hostroot", "/"),
                {
                  name: "multus-daemon-config",
                  configMap: {
                    name: config.metadata.name,
                    items: [{ key: "daemon-config.json", path: "daemon-config.json" }],
                  },
                },
                hostPath("host-run", "/run"),
                hostPath("host-var-lib-cni-multus", "/var/lib/cni/multus"),
                hostPath("host-var-lib-kubelet", "/var/lib/kubelet"),
                hostPath("host-run-k8s-cni-cncf-io", "/run/k8s.cni.cncf.io"),
                hostPath("host-run-netns", "/run/netns/"),
                hostPath("multus-conf-dir", "/etc/cni/multus/net.d"),
              ],
            },
          },
        },
      },
      { ...parent, dependsOn: [binding, this.crd] },
    );

    this.daemonSetName = ds.metadata.name;
    this.image = pulumi.output(args.image);
    this.registerOutputs({ daemonSetName: this.daemonSetName, image: this.image });
  }
}
