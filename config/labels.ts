// Labels the program puts on cluster objects and that other parts read back (the planner, the
// node agents' selectors, the policy pack): one copy of each name.

/** On every object the program creates, so `kubectl get -l` finds them. */
export const PART_OF = { "app.kubernetes.io/part-of": "kubevirt-sriov", "app.kubernetes.io/managed-by": "pulumi" };

/**
 * Tolerations of the node agents: every NoSchedule/NoExecute taint, so a tainted node that runs
 * VMs still gets its network agents.
 */
export const AGENT_TOLERATIONS = [{ operator: "Exists", effect: "NoSchedule" }, { operator: "Exists", effect: "NoExecute" }];

/** On every node this stack prepares: the SR-IOV node agents run on these nodes only. */
export const SRIOV_NODE_LABEL = "kubevirt-sriov/sriov-node";

/** The kubelet's own label with the node name; every node has it. */
export const HOSTNAME_LABEL = "kubernetes.io/hostname";

/**
 * The labels a stack node carries after `pulumi up`, as far as the program decides them: the
 * configured ones, the SR-IOV label and the hostname label. What placement matches VMs against.
 */
export function labelsAfterUp(node: { name: string; labels: Readonly<Record<string, string>> }): Record<string, string> {
  return { ...node.labels, [SRIOV_NODE_LABEL]: "true", [HOSTNAME_LABEL]: node.name };
}
