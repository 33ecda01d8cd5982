// Not a component, yet here: it turns the config's SSH plans into SriovNodePrep's connections,
// wrapping every credential in a secret Output, which a Pulumi-free module in config/ or render/
// cannot do.
import * as pulumi from "@pulumi/pulumi";
import type { NodeSshPlan, SshLogin } from "../config/ssh";
import type { NodeConnection } from "./nodePrep";

function credentials(
  l: SshLogin,
  secrets: ReadonlyMap<string, pulumi.Output<string>>,
): { privateKey?: pulumi.Output<string>; password?: pulumi.Output<string> } {
  if (l.passwordSecret !== undefined)
    return { password: pulumi.secret(secrets.get(l.passwordSecret) as pulumi.Output<string>) };
  if (l.privateKeySecret !== undefined)
    return { privateKey: pulumi.secret(secrets.get(l.privateKeySecret) as pulumi.Output<string>) };
  return {};
}

/** SSH connections per node, credentials resolved to secret Outputs. */
export function connectionsFor(
  plans: readonly NodeSshPlan[],
  secrets: ReadonlyMap<string, pulumi.Output<string>>,
): Map<string, NodeConnection> {
  const out = new Map<string, NodeConnection>();
  for (const p of plans) {
    const c: NodeConnection = {
      host: p.login.host,
      port: p.login.port,
      user: p.login.user,
      ...credentials(p.login, secrets),
      dialErrorLimit: p.dialErrorLimit,
      perDialTimeout: p.perDialTimeout,
    };
    if (p.login.hostKey !== undefined) c.hostKey = p.login.hostKey;
    if (p.bastion) {
      c.proxy = {
        host: p.bastion.host,
        port: p.bastion.port,
        user: p.bastion.user,
        ...credentials(p.bastion, secrets),
      };
      if (p.bastion.hostKey !== undefined) c.proxy.hostKey = p.bastion.hostKey;
    }
    out.set(p.node, c);
  }
  return out;
}
