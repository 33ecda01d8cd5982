// Whereabouts, the cluster-wide IPAM plugin a network gets with `ipam: {type: whereabouts}`.
// Rendered as plain objects from upstream's install at the pinned tag (config/versions.ts),
// read at k8snetworkplumbingwg/whereabouts v0.9.4:
//   doc/crds/daemonset-install.yaml         ServiceAccount, ClusterRole(Binding), ConfigMap, DaemonSet
//   doc/crds/reconciler-deployment.yaml     the ip-reconciler Deployment (v0.9.4 moved the cron
//                                           reconciler out of the DaemonSet into its own binary)
//   doc/crds/whereabouts.cni.cncf.io_{ippools,overlappingrangeipreservations}.yaml
//   Dockerfile                              what the image holds (WHEREABOUTS_IMAGE below)
// upstream's README installs exactly those four files. The NodeSlicePool CRD and the
// node-slice-controller are left out: they serve only `node_slice_size`, which this program
// never renders (render/nad.ts writes `type` and `range` only).
// Every difference from upstream is commented where it is made.
import type { NetworkModel } from "../config/model";
import { AGENT_IMAGE_LAYOUTS } from "../config/agentImages";
import { AGENT_TOLERATIONS, PART_OF, SRIOV_NODE_LABEL } from "../config/labels";

export const WHEREABOUTS = {
  serviceAccount: "whereabouts",
  clusterRole: "whereabouts-cni",
  clusterRoleBinding: "whereabouts",
  configMap: "whereabouts-config",
  daemonSet: "whereabouts",
  reconciler: "whereabouts-reconciler",
  group: "whereabouts.cni.cncf.io",
  /** Upstream's default schedule for the ip-reconciler: once a day at 04:30 (UTC). */
  reconcilerCron: "30 4 * * *",
} as const;

/** The image's layout (config/agentImages.ts): the commands below run only these. */
export const WHEREABOUTS_IMAGE = AGENT_IMAGE_LAYOUTS.whereabouts;

/** Whether any network of the stack asks for whereabouts: only then is it deployed. */
export function usesWhereabouts(networks: Iterable<NetworkModel>): boolean {
  for (const n of networks) if (n.config.ipam.type === "whereabouts") return true;
  return false;
}

// ---- CRDs -----------------------------------------------------------------------------

/** The fields every object schema carries (upstream's controller-gen output, descriptions trimmed). */
const objectMeta = {
  apiVersion: { type: "string" },
  kind: { type: "string" },
  metadata: { type: "object" },
};

export interface CrdDocument {
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string };
    scope: "Namespaced";
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: Record<string, unknown> };
    }[];
  };
}

/**
 * IPPool: one per range (per network name), in the whereabouts namespace; the CNI plugin writes
 * `spec.allocations` keyed by the IP's offset in `spec.range`.
 */
export function renderIpPoolCrd(): CrdDocument {
  return {
    metadata: { name: `ippools.${WHEREABOUTS.group}`, labels: { ...PART_OF } },
    spec: {
      group: WHEREABOUTS.group,
      names: { kind: "IPPool", listKind: "IPPoolList", plural: "ippools", singular: "ippool" },
      scope: "Namespaced",
      versions: [
        {
          name: "v1alpha1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              description: "IPPool is the Schema for the ippools API",
              type: "object",
              properties: {
                ...objectMeta,
                spec: {
                  description: "IPPoolSpec defines the desired state of IPPool",
                  type: "object",
                  required: ["allocations", "range"],
                  properties: {
                    allocations: {
                      description:
                        "Allocations is the set of allocated IPs for the given range, keyed by the IP's offset in the range.",
                      type: "object",
                      additionalProperties: {
                        description: "IPAllocation represents metadata about the pod/container owner of a specific IP",
                        type: "object",
                        required: ["id", "podref"],
                        properties: {
                          id: { type: "string" },
                          ifname: { type: "string" },
                          podref: { type: "string" },
                        },
                      },
                    },
                    range: {
                      description:
                        "Range is a RFC 4632/4291-style string that represents an IP address and prefix length in CIDR notation",
                      type: "string",
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}

/** OverlappingRangeIPReservation: one per reserved IP, so two ranges that overlap never hand out the same address. */
export function renderOverlappingRangeIpReservationCrd(): CrdDocument {
  return {
    metadata: { name: `overlappingrangeipreservations.${WHEREABOUTS.group}`, labels: { ...PART_OF } },
    spec: {
      group: WHEREABOUTS.group,
      names: {
        kind: "OverlappingRangeIPReservation",
        listKind: "OverlappingRangeIPReservationList",
        plural: "overlappingrangeipreservations",
        singular: "overlappingrangeipreservation",
      },
      scope: "Namespaced",
      versions: [
        {
          name: "v1alpha1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              description: "OverlappingRangeIPReservation is the Schema for the OverlappingRangeIPReservations API",
              type: "object",
              required: ["spec"],
              properties: {
                ...objectMeta,
                spec: {
                  description:
                    "OverlappingRangeIPReservationSpec defines the desired state of OverlappingRangeIPReservation",
                  type: "object",
                  required: ["podref"],
                  properties: {
                    containerid: { type: "string" },
                    ifname: { type: "string" },
                    podref: { type: "string" },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}

export function renderWhereaboutsCrds(): CrdDocument[] {
  return [renderIpPoolCrd(), renderOverlappingRangeIpReservationCrd()];
}

// ---- RBAC and config ------------------------------------------------------------------

/** Upstream's ClusterRole `whereabouts-cni`, rule for rule (nodeslicepools kept: a rule on an absent kind is inert). */
export function whereaboutsClusterRoleRules() {
  return [
    {
      apiGroups: [WHEREABOUTS.group],
      resources: ["ippools", "overlappingrangeipreservations", "nodeslicepools"],
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["*"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "get"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["k8s.cni.cncf.io"], resources: ["network-attachment-definitions"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch", "update", "get"] },
  ];
}

/** The ip-reconciler's schedule (mounted at /cron-schedule/config; the reconciler watches it). */
export function renderWhereaboutsConfigMap(namespace: string) {
  return {
    metadata: {
      name: WHEREABOUTS.configMap,
      namespace,
      labels: { ...PART_OF, app: "whereabouts" },
      annotations: { "kubernetes.io/description": "Configmap containing user customizable cronjob schedule\n" },
    },
    data: { "cron-expression": WHEREABOUTS.reconcilerCron },
  };
}

// ---- workloads ------------------------------------------------------------------------

export interface WhereaboutsWorkloadArgs {
  namespace: string;
  image: string;
}

/** Gives the namespace the plugin keeps its IPPools in: the pod's own (the agent namespace). */
const namespaceEnv = { name: "WHEREABOUTS_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } };

/**
 * Upstream's container script, verbatim: install the plugin binary, its kubeconfig and
 * whereabouts.conf into the host's CNI dirs (install-cni.sh, SLEEP=false so it returns), keep
 * the kubeconfig's token fresh in the background, and run the pod controller, which frees the
 * IPs of pods deleted on this node.
 */
export const WHEREABOUTS_DAEMON_SCRIPT =
  "SLEEP=false source /install-cni.sh\n/token-watcher.sh &\n/ip-control-loop -log-level debug\n";

/** The node DaemonSet: copies the `whereabouts` plugin onto each node and runs the per-node IP controller. */
export function renderWhereaboutsDaemonSet(args: WhereaboutsWorkloadArgs) {
  const labels = { ...PART_OF, tier: "node", app: "whereabouts" };
  return {
    metadata: { name: WHEREABOUTS.daemonSet, namespace: args.namespace, labels },
    spec: {
      selector: { matchLabels: { name: "whereabouts" } },
      updateStrategy: { type: "RollingUpdate" },
      template: {
        metadata: { labels: { ...labels, name: "whereabouts" } },
        spec: {
          hostNetwork: true,
          serviceAccountName: WHEREABOUTS.serviceAccount,
          // Difference: upstream runs on every Linux node. Only SR-IOV nodes run pods on this
          // stack's networks (their VFs exist nowhere else), and the controller only serves pods
          // of its own node; so the plugin goes where the SR-IOV CNI goes (the same selector).
          nodeSelector: { [SRIOV_NODE_LABEL]: "true", "kubernetes.io/os": "linux" },
          // Difference: upstream tolerates NoSchedule only. Like our other node agents we also
          // tolerate NoExecute, so a tainted node keeps the IPAM its running pods need to free IPs.
          tolerations: AGENT_TOLERATIONS,
          // Difference: upstream sets no priority class. The plugin is on every pod's network
          // setup and teardown on the node, as Multus is: evicting it strands pod IPs.
          priorityClassName: "system-node-critical",
          containers: [
            {
              name: "whereabouts",
              command: ["/bin/sh"],
              args: ["-c", WHEREABOUTS_DAEMON_SCRIPT],
              // Difference: upstream's manifest says `:latest`; the tag is pinned (config/versions.ts).
              image: args.image,
              env: [
                { name: "NODENAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } } },
                namespaceEnv,
              ],
              resources: { requests: { cpu: "100m", memory: "100Mi" }, limits: { cpu: "100m", memory: "200Mi" } },
              // As upstream: it writes the plugin and its kubeconfig into host paths (on SELinux
              // hosts only a privileged container may), hence the host-access policy allow-list.
              securityContext: { privileged: true },
              volumeMounts: [
                { name: "cnibin", mountPath: "/host/opt/cni/bin" },
                { name: "cni-net-dir", mountPath: "/host/etc/cni/net.d" },
              ],
            },
          ],
          volumes: [
            { name: "cnibin", hostPath: { path: "/opt/cni/bin" } },
            { name: "cni-net-dir", hostPath: { path: "/etc/cni/net.d" } },
          ],
        },
      },
    },
  };
}

/** The ip-reconciler: once per cluster, on the ConfigMap's schedule, frees IPs whose pods are gone. */
export function renderWhereaboutsReconciler(args: WhereaboutsWorkloadArgs) {
  const labels = { ...PART_OF, tier: "node", app: WHEREABOUTS.reconciler };
  return {
    metadata: { name: WHEREABOUTS.reconciler, namespace: args.namespace, labels },
    spec: {
      // Upstream: never more than 1, there is no leader election.
      replicas: 1,
      // Difference: upstream keeps the default RollingUpdate, which runs a second reconciler
      // during every rollout; Recreate keeps it at one, as upstream's own comment requires.
      strategy: { type: "Recreate" },
      selector: { matchLabels: { name: WHEREABOUTS.reconciler } },
      template: {
        metadata: { labels: { ...labels, name: WHEREABOUTS.reconciler } },
        spec: {
          serviceAccountName: WHEREABOUTS.serviceAccount,
          containers: [
            {
              name: WHEREABOUTS.reconciler,
              command: ["/ip-reconciler"],
              args: ["-log-level", "debug"],
              // Difference: upstream's manifest says `:latest`; the tag is pinned.
              image: args.image,
              env: [namespaceEnv],
              resources: { requests: { cpu: "100m", memory: "50Mi" }, limits: { cpu: "100m", memory: "50Mi" } },
              volumeMounts: [{ name: "cron-scheduler-configmap", mountPath: "/cron-schedule" }],
            },
          ],
          volumes: [
            {
              name: "cron-scheduler-configmap",
              configMap: {
                name: WHEREABOUTS.configMap,
                defaultMode: 0o744,
                items: [{ key: "cron-expression", path: "config" }],
              },
            },
          ],
        },
      },
    },
  };
}
