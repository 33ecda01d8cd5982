// Privileged containers, host namespaces and hostPath volumes are for the node agents that need
// them (Multus installs its shim and enters pod netns; the device plugin reads sysfs and the
// kubelet's socket dir; the SR-IOV CNI and Whereabouts copy their plugins into /opt/cni/bin) —
// nothing else of this stack gets them. A writable hostPath is root on the node (write a CNI
// binary or a kubelet file and the node runs it); a read-only one still shows host files.
//
// Which namespace the agents live in. The stack's `agentNamespace` (default kube-system) is not
// visible to a policy pack, so the pack takes it from its own config, `agentNamespace` of this
// policy, with the same default; the README and docs/preflight.md tell users to pass it with
// --policy-pack-config when they change it. Two other ways were weighed and not taken:
// - matching the agents by their `app.kubernetes.io/part-of: kubevirt-sriov` label in any
//   namespace: any workload can copy a label, so it would let any privileged pod through;
// - deriving the namespace from the stack (the namespace of its `multus-daemon-config`
//   ConfigMap): that needs every resource, i.e. a stack policy, which runs only at the end of a
//   preview and, with `pulumi up --skip-preview`, after the resources exist — this resource
//   policy runs before each workload is created. It would also trust whichever ConfigMap of that
//   name the stack holds, in whatever namespace.
// Name plus namespace is an identity the API server enforces (one DaemonSet of a name per
// namespace), so the allow-list is exact. A stack whose pack config names the wrong namespace
// fails closed: its agents are flagged, and the message says which setting fixes it.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AGENT_OBJECTS, DEFAULT_AGENT_NAMESPACE } from "../../config/labels";
import { WHEREABOUTS } from "../../render/whereabouts";
import { arr, containersOf, isPodBearing, metaOf, obj, podSpecOf, str } from "./common";

export interface AllowedWorkload {
  name: string;
  namespace: string;
}

/** The stack's node agents that need host access: Multus, device plugin, SR-IOV CNI, Whereabouts. */
export const NODE_AGENT_WORKLOADS = [
  AGENT_OBJECTS.multusDaemonSet,
  AGENT_OBJECTS.devicePluginDaemonSet,
  AGENT_OBJECTS.sriovCniDaemonSet,
  WHEREABOUTS.daemonSet,
] as const;

/**
 * FIELD-NOTES: `kube-multus-ds` (hostNetwork, hostPID, privileged, hostPaths incl. `/`),
 * `kube-sriov-device-plugin` (hostNetwork, privileged, kubelet and device-info hostPaths),
 * `kube-sriov-cni-ds` (writable hostPath /opt/cni/bin), `whereabouts` (hostNetwork, privileged,
 * /opt/cni/bin and /etc/cni/net.d; deployed only when a network uses it).
 */
export function agentAllowlist(agentNamespace: string): AllowedWorkload[] {
  return NODE_AGENT_WORKLOADS.map((name) => ({ name, namespace: agentNamespace }));
}

export const DEFAULT_HOST_ACCESS_ALLOWLIST: AllowedWorkload[] = agentAllowlist(DEFAULT_AGENT_NAMESPACE);

export interface HostAccessConfig {
  /** Namespace of the stack's node agents: the stack's `agentNamespace`. */
  agentNamespace?: string;
  /** Replaces the agents of `agentNamespace` when set. */
  allowlist?: AllowedWorkload[];
}

/** The hostPath volumes of a pod spec, each with whether some container can write to it. */
export function hostPathVolumesOf(
  podSpec: Record<string, unknown>,
): { name: string; path: string; access: "writable" | "read-only" | "not mounted" }[] {
  const mounts = containersOf(podSpec).flatMap((c) => arr(c.container.volumeMounts).map(obj));
  const out: { name: string; path: string; access: "writable" | "read-only" | "not mounted" }[] = [];
  arr(podSpec.volumes).forEach((v, i) => {
    const volume = obj(v);
    if (!("hostPath" in volume)) return;
    const name = str(volume.name) ?? `#${i}`;
    const path = str(obj(volume.hostPath).path) ?? "?";
    const used = mounts.filter((m) => m.name === name);
    const access = used.length === 0 ? "not mounted" : used.some((m) => m.readOnly !== true) ? "writable" : "read-only";
    out.push({ name, path, access });
  });
  return out;
}

/** What a pod spec asks of the host: host namespaces, privileged containers, hostPath volumes. */
export function hostAccessOf(podSpec: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const field of ["hostNetwork", "hostPID", "hostIPC"]) if (podSpec[field] === true) out.push(field);
  for (const c of containersOf(podSpec)) {
    if (obj(c.container.securityContext).privileged === true)
      out.push(`privileged ${c.where}${c.name ? ` (${c.name})` : ""}`);
  }
  for (const v of hostPathVolumesOf(podSpec)) out.push(`hostPath volume ${v.name} (${v.path}, ${v.access})`);
  return out;
}

export const hostAccessOnlyForNodeAgents: ResourceValidationPolicy = {
  name: "host-access-only-for-node-agents",
  description:
    "Only the stack's node agents (Multus, SR-IOV device plugin and CNI, Whereabouts) in the agent namespace run privileged, in host namespaces or with hostPath volumes.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      agentNamespace: {
        type: "string",
        description:
          "The stack's agentNamespace (where Multus, the device plugin, the SR-IOV CNI and Whereabouts run).",
        default: DEFAULT_AGENT_NAMESPACE,
      },
      // No default here: the engine fills in schema defaults, and one would hide agentNamespace.
      allowlist: {
        type: "array",
        description: "Workloads allowed host access, replacing the agents of agentNamespace.",
        items: {
          type: "object",
          properties: { name: { type: "string" }, namespace: { type: "string" } },
          required: ["name", "namespace"],
        },
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
    const config = args.getConfig<HostAccessConfig>();
    const agentNamespace = config.agentNamespace ?? DEFAULT_AGENT_NAMESPACE;
    const allow = config.allowlist ?? agentAllowlist(agentNamespace);
    if (meta.name !== undefined && allow.some((a) => a.name === meta.name && a.namespace === meta.namespace)) return;
    // One of our agents in another namespace: most likely the stack's agentNamespace differs
    // from the one the pack was given.
    const agentElsewhere =
      config.allowlist === undefined && (NODE_AGENT_WORKLOADS as readonly string[]).includes(meta.name ?? "");
    const hint = agentElsewhere
      ? `; if this stack's agentNamespace is "${meta.namespace}", give the pack the same: {"host-access-only-for-node-agents": {"agentNamespace": "${meta.namespace}"}} in --policy-pack-config`
      : "";
    reportViolation(
      `${meta.namespace}/${meta.name ?? args.name} asks for ${access.join(", ")}, but only ${allow.map((a) => `${a.namespace}/${a.name}`).join(", ") || "no workload"} may — drop it, or add the workload to this policy's allowlist in the stack's policy config${hint}`,
    );
  },
};
