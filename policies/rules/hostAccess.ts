// Privileged containers and host namespaces are for the node agents that need them (Multus
// installs its shim and enters pod netns; the device plugin reads sysfs and the kubelet's
// socket dir) — nothing else of this stack gets them.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { containersOf, isPodBearing, metaOf, obj, podSpecOf } from "./common";

export interface AllowedWorkload {
  name: string;
  namespace: string;
}

/** FIELD-NOTES: `kube-multus-ds` (hostNetwork, hostPID, privileged), `kube-sriov-device-plugin` (hostNetwork, privileged). */
export const DEFAULT_HOST_ACCESS_ALLOWLIST: AllowedWorkload[] = [
  { name: "kube-multus-ds", namespace: "kube-system" },
  { name: "kube-sriov-device-plugin", namespace: "kube-system" },
  // Whereabouts (hostNetwork, privileged as upstream): deployed only when a network uses it.
  { name: "whereabouts", namespace: "kube-system" },
];

export interface HostAccessConfig {
  allowlist?: AllowedWorkload[];
}

/** What a pod spec asks of the host: privileged containers and host namespaces. */
export function hostAccessOf(podSpec: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const field of ["hostNetwork", "hostPID", "hostIPC"]) if (podSpec[field] === true) out.push(field);
  for (const c of containersOf(podSpec)) {
    if (obj(c.container.securityContext).privileged === true) out.push(`privileged ${c.where}${c.name ? ` (${c.name})` : ""}`);
  }
  return out;
}

export const hostAccessOnlyForNodeAgents: ResourceValidationPolicy = {
  name: "host-access-only-for-node-agents",
  description: "Only the allowlisted node agents (Multus, SR-IOV device plugin) run privileged or in host namespaces.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      allowlist: {
        type: "array",
        items: {
          type: "object",
          properties: { name: { type: "string" }, namespace: { type: "string" } },
          required: ["name", "namespace"],
        },
        default: DEFAULT_HOST_ACCESS_ALLOWLIST,
      },
    },
  },
  validateResource: (args, reportViolation) => {
    if (!isPodBearing(args.type)) args.notApplicable("not a Pod-bearing workload");
    const pod = podSpecOf(args.type, args.props);
    if (!pod) return;
    const access = hostAccessOf(pod);
    if (access.length === 0) return;
    const meta = metaOf(args.props);
    const allow = args.getConfig<HostAccessConfig>().allowlist ?? DEFAULT_HOST_ACCESS_ALLOWLIST;
    if (meta.name !== undefined && allow.some((a) => a.name === meta.name && a.namespace === meta.namespace)) return;
    reportViolation(
      `${meta.namespace}/${meta.name ?? args.name} asks for ${access.join(", ")}, but only ${allow.map((a) => `${a.namespace}/${a.name}`).join(", ") || "no workload"} may — drop it, or add the workload to this policy's allowlist in the stack's policy config`,
    );
  },
};
