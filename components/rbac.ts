// The identity a node agent runs as: a ServiceAccount, a ClusterRole with the agent's rules, and
// the binding between them. Multus, Whereabouts and the injector each need exactly this shape;
// one helper keeps the three identical (child names, roleRef, subjects).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childName } from "../config/names";

export interface AgentIdentityArgs {
  /** Namespace of the ServiceAccount. */
  namespace: string;
  /** Labels on all three objects. */
  labels: Record<string, string>;
  /** Object names; the ClusterRole and its binding default to the ServiceAccount's name. */
  serviceAccount: string;
  clusterRole?: string;
  clusterRoleBinding?: string;
  rules: k8s.types.input.rbac.v1.PolicyRule[];
}

export interface AgentIdentity {
  serviceAccount: k8s.core.v1.ServiceAccount;
  clusterRole: k8s.rbac.v1.ClusterRole;
  /** What a workload should depend on: its permissions exist once this does. */
  binding: k8s.rbac.v1.ClusterRoleBinding;
}

/** Registers `<name>-sa`, `<name>-role` and `<name>-binding` under opts.parent. */
export function agentIdentity(
  name: string,
  args: AgentIdentityArgs,
  opts: pulumi.CustomResourceOptions,
): AgentIdentity {
  const { namespace, labels } = args;
  const serviceAccount = new k8s.core.v1.ServiceAccount(
    childName(name, "sa"),
    { metadata: { name: args.serviceAccount, namespace, labels } },
    opts,
  );
  const clusterRole = new k8s.rbac.v1.ClusterRole(
    childName(name, "role"),
    { metadata: { name: args.clusterRole ?? args.serviceAccount, labels }, rules: args.rules },
    opts,
  );
  const binding = new k8s.rbac.v1.ClusterRoleBinding(
    childName(name, "binding"),
    {
      metadata: { name: args.clusterRoleBinding ?? args.serviceAccount, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace }],
    },
    opts,
  );
  return { serviceAccount, clusterRole, binding };
}
