// How the program reaches each node over SSH: endpoints from the stack config, credentials
// by the NAME of a secret config key (the secret values never pass through the schema).
// Secret names are Pulumi config keys, `namespace:key`; a bare key is in the project's namespace.
import { ConfigError, ConfigProblem } from "./errors";
import type { PlatformModel } from "./model";
import { CONFIG_NAMESPACE, CONFIG_ROOT, SshEndpoint } from "./schema";

export interface SshLogin {
  host: string;
  port: number;
  user: string;
  hostKey?: string;
  /** Exactly one of the two: the secret config key (`namespace:key`) holding the private key or the password. */
  privateKeySecret?: string;
  passwordSecret?: string;
}

/** A secret config key, split the way pulumi.Config reads it. */
export interface SecretKey {
  namespace: string;
  key: string;
  /** `namespace:key`, as `pulumi config set --secret` and the engine's isConfigSecret take it. */
  full: string;
}

/** A secret name as the stack writes it: `ops:bmcPassword`, or `sshPrivateKey` for `kubevirt-sriov:sshPrivateKey`. */
export function secretKey(name: string): SecretKey {
  const at = name.indexOf(":");
  const namespace = at < 0 ? CONFIG_NAMESPACE : name.slice(0, at);
  const key = name.slice(at + 1);
  return { namespace, key, full: `${namespace}:${key}` };
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
  // Spelled in full, so a secret named both ways is read once.
  const full = (name: string) => secretKey(name).full;
  if (ep.passwordSecret !== undefined) out.passwordSecret = full(ep.passwordSecret);
  else if (ep.privateKeySecret !== undefined) out.privateKeySecret = full(ep.privateKeySecret);
  else if (defaults.passwordSecret !== undefined) out.passwordSecret = full(defaults.passwordSecret);
  else out.privateKeySecret = full(defaults.privateKeySecret);
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

/** Why the stack needs a secret: the config path that names it, and what it holds. */
export interface SecretUse {
  usedBy: string;
  holds: "private key" | "password";
}

/** Every secret config key the stack needs (by `namespace:key`), with the first place that asks for it. */
export function requiredSecrets(plans: readonly NodeSshPlan[]): Map<string, SecretUse> {
  const out = new Map<string, SecretUse>();
  plans.forEach((p) => {
    for (const [l, usedBy] of [
      [p.login, `nodes[${p.entry}].ssh`],
      [p.bastion, `nodes[${p.entry}].bastion`],
    ] as const) {
      if (!l) continue;
      const key = l.privateKeySecret ?? l.passwordSecret;
      if (key === undefined || out.has(key)) continue;
      out.set(key, { usedBy, holds: l.privateKeySecret !== undefined ? "private key" : "password" });
    }
  });
  return out;
}

/** A secret's value as the engine has it; `secret` is false when it is stored in plaintext. */
export type SecretReader<T> = (key: SecretKey) => { value: T; secret: boolean } | undefined;

/**
 * The value of every needed secret, by `namespace:key`. Each must be set, and set with
 * --secret: a plaintext credential would land in the state. Throws one ConfigError naming
 * every secret that is not.
 */
export function readSecretKeys<T>(needed: ReadonlyMap<string, SecretUse>, read: SecretReader<T>): Map<string, T> {
  const problems: ConfigProblem[] = [];
  const out = new Map<string, T>();
  for (const [name, use] of needed) {
    const s = secretKey(name);
    const found = read(s);
    // A private key is a file's contents; a password is typed at pulumi's prompt.
    const valueArg = use.holds === "private key" ? ` -- "$(cat ~/.ssh/id_ed25519)"` : "";
    const command = `pulumi config set --secret ${s.full}${valueArg}`;
    if (found === undefined) {
      problems.push({ root: s.full, path: [], problem: `not set (needed by ${use.usedBy})`, fix: `run: ${command}` });
    } else if (!found.secret) {
      const problem = "is stored in plaintext in the stack file";
      problems.push({ root: s.full, path: [], problem, fix: `re-set it with: ${command}` });
    } else {
      out.set(s.full, found.value);
    }
  }
  if (problems.length > 0) throw new ConfigError(CONFIG_ROOT, problems, "missing or unsafe secrets");
  return out;
}
