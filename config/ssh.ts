// How the program reaches each node over SSH: endpoints from the stack config, credentials
// by the NAME of a secret config key (the secret values never pass through the schema).
import type { PlatformModel } from "./model";
import type { SshEndpoint } from "./schema";

export interface SshLogin {
  host: string;
  port: number;
  user: string;
  hostKey?: string;
  /** Exactly one of the two: the config key holding the private key or the password. */
  privateKeySecret?: string;
  passwordSecret?: string;
}

export interface NodeSshPlan {
  node: string;
  /** Index of the node's entry in the stack file's `nodes` (for messages). */
  entry: number;
  login: SshLogin;
  bastion?: SshLogin;
  dialErrorLimit: number;
  perDialTimeout: number;
}

function login(ep: SshEndpoint, defaults: PlatformModel["config"]["ssh"]): SshLogin {
  const out: SshLogin = { host: ep.host, port: ep.port, user: ep.user };
  if (ep.hostKey !== undefined) out.hostKey = ep.hostKey;
  if (ep.passwordSecret !== undefined) out.passwordSecret = ep.passwordSecret;
  else if (ep.privateKeySecret !== undefined) out.privateKeySecret = ep.privateKeySecret;
  else if (defaults.passwordSecret !== undefined) out.passwordSecret = defaults.passwordSecret;
  else out.privateKeySecret = defaults.privateKeySecret;
  return out;
}

export function sshPlan(model: PlatformModel): NodeSshPlan[] {
  const d = model.config.ssh;
  return model.nodes.map((n) => {
    const plan: NodeSshPlan = {
      node: n.config.name,
      entry: n.source.entry,
      login: login(n.config.ssh, d),
      dialErrorLimit: d.dialErrorLimit,
      perDialTimeout: d.perDialTimeout,
    };
    if (n.config.bastion !== undefined) plan.bastion = login(n.config.bastion, d);
    return plan;
  });
}

/** Every secret config key the stack needs, with the config path that asks for it. */
export function requiredSecrets(plans: readonly NodeSshPlan[]): Map<string, string> {
  const out = new Map<string, string>();
  plans.forEach((p) => {
    for (const [l, where] of [[p.login, `nodes[${p.entry}].ssh`], [p.bastion, `nodes[${p.entry}].bastion`]] as const) {
      if (!l) continue;
      const key = l.privateKeySecret ?? l.passwordSecret;
      if (key !== undefined && !out.has(key)) out.set(key, where);
    }
  });
  return out;
}
