// Labels and annotations shared by the components.
export const PART_OF = { "app.kubernetes.io/part-of": "kubevirt-sriov", "app.kubernetes.io/managed-by": "pulumi" };

/** Node label that puts the SR-IOV node agents (device plugin, CNI) on prepared nodes only. */
export const SRIOV_NODE_LABEL = "kubevirt-sriov/sriov-node";

/** Annotations for objects whose readiness the program must not wait for. */
export function awaitAnnotations(waitForReadiness: boolean): Record<string, string> {
  return waitForReadiness ? {} : { "pulumi.com/skipAwait": "true" };
}

export const AGENT_TOLERATIONS = [{ operator: "Exists", effect: "NoSchedule" }, { operator: "Exists", effect: "NoExecute" }];
