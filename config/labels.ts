// Labels, annotations and object names the program puts on cluster objects and that other
// parts read back (the planner, the node agents' selectors, the policy pack): one copy of each.

export const PART_OF_LABEL = "app.kubernetes.io/part-of";
/** On every object the program creates, so `kubectl get -l` finds them. */
export const PART_OF = { [PART_OF_LABEL]: "kubevirt-sriov", "app.kubernetes.io/managed-by": "pulumi" };

/**
 * Tolerations of the node agents: every NoSchedule/NoExecute taint, so a tainted node that runs
 * VMs still gets its network agents.
 */
export const AGENT_TOLERATIONS = [
  { operator: "Exists", effect: "NoSchedule" },
  { operator: "Exists", effect: "NoExecute" },
];

/** Where the node agents run unless the stack sets `agentNamespace` (the schema's default). */
export const DEFAULT_AGENT_NAMESPACE = "kube-system";

/** On every node this stack prepares: the SR-IOV node agents run on these nodes only. */
export const SRIOV_NODE_LABEL = "kubevirt-sriov/sriov-node";

/** The KubeVirt release the program deployed, on the KubeVirt CR. */
export const KUBEVIRT_VERSION_ANNOTATION = "kubevirt-sriov/version";

/** Hash annotations on the device plugin's pod template: the plugin reads its config and VFs only at start. */
export const CONFIG_HASH_ANNOTATION = "kubevirt-sriov/config-hash";
export const VF_HASH_ANNOTATION = "kubevirt-sriov/vf-hash";
/** On the device plugin's ConfigMap: the number of nodes a uniform config.json serves. */
export const NODE_COUNT_ANNOTATION = "kubevirt-sriov/nodes";

/** Multus's and KubeVirt's annotation on a NAD: the device-plugin resource, `<prefix>/<pool>`, it requests. */
export const RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName";

/** Names of the node agents' objects, as upstream's manifests name them. */
export const AGENT_OBJECTS = {
  multusDaemonSet: "kube-multus-ds",
  devicePluginDaemonSet: "kube-sriov-device-plugin",
  devicePluginConfigMap: "sriovdp-config",
  sriovCniDaemonSet: "kube-sriov-cni-ds",
} as const;

/** Tells Pulumi's Kubernetes provider not to wait for the object to become ready. */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

/** Annotations for objects whose readiness the program must not wait for. */
export function awaitAnnotations(waitForReadiness: boolean): Record<string, string> {
  return waitForReadiness ? {} : { [SKIP_AWAIT_ANNOTATION]: "true" };
}

/** The kubelet's own label with the node name; every node has it. */
export const HOSTNAME_LABEL = "kubernetes.io/hostname";

/**
 * The labels a stack node carries after `pulumi up`, as far as the program decides them: the
 * configured ones, the SR-IOV label and the hostname label. What placement matches VMs against.
 */
export function labelsAfterUp(node: {
  name: string;
  labels: Readonly<Record<string, string>>;
}): Record<string, string> {
  return { ...node.labels, [SRIOV_NODE_LABEL]: "true", [HOSTNAME_LABEL]: node.name };
}
