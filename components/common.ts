// Labels and annotations shared by the components.

export { AGENT_TOLERATIONS, PART_OF, SRIOV_NODE_LABEL } from "../config/labels";

/** Annotations for objects whose readiness the program must not wait for. */
export function awaitAnnotations(waitForReadiness: boolean): Record<string, string> {
  return waitForReadiness ? {} : { "pulumi.com/skipAwait": "true" };
}

