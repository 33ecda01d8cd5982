// Node preparation runs over SSH (`command:remote:Command`). Its connection must not be open
// to a man in the middle in production (hostKey pinned), and no credential may travel as
// plaintext input: not in the scripts, the environment or the triggers (those are stored in
// the state and shown in diffs), and not as an unmarked connection field.
//
// How secrets reach a policy (@pulumi/policy 1.21): validateResource gets the inputs with
// secrets already unwrapped (server.js deserializes with proxySecrets=false), so a policy
// cannot tell a secret string from a plain one. What it can see: @pulumi/command 1.2.x wraps
// the whole `connection` in pulumi.secret() and registers it in additionalSecretOutputs, so
// `opts.additionalSecretOutputs` containing "connection" is the mark that the SDK kept the
// key secret. Raw secret markers (as mocks and older engines show them) count as secret too.
import { ResourceValidationPolicy, Secret } from "@pulumi/policy";
import { isObject, known, obj, str, TYPES } from "./common";

/** The Pulumi wire format of a secret value. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretMarked(v: unknown): boolean {
  return v instanceof Secret || (isObject(v) && v[SECRET_SIG_KEY] === SECRET_SIG);
}

function unwrap(v: unknown): unknown {
  if (v instanceof Secret) return v.value;
  if (isObject(v) && v[SECRET_SIG_KEY] === SECRET_SIG) return v.value;
  return v;
}

const PEM = /-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|CERTIFICATE)[A-Z ]*-----/;
/** Credentials shorter than this are not searched for in scripts (too many false hits). */
const MIN_SECRET_LENGTH = 6;

export type Environment = "lab" | "dev" | "staging" | "production";

export interface HostKeyConfig {
  environment?: Environment;
}

/** The plaintext fields of a Command that end up in the state and in diffs. */
function plaintextFields(props: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const k of ["create", "update", "delete", "stdin"]) {
    const raw = known(() => props[k]);
    if (typeof raw === "string") out.push([k, raw]);
  }
  const env = known(() => Object.entries(obj(props.environment))) ?? [];
  for (const [k, v] of env) if (typeof v === "string") out.push([`environment.${k}`, v]);
  const triggers = known(() =>
    props.triggers === undefined || isSecretMarked(props.triggers) ? undefined : JSON.stringify(props.triggers),
  );
  if (triggers !== undefined) out.push(["triggers", triggers]);
  return out;
}

/** Violations of the no-plaintext-credentials rule for one Command's inputs. */
export function plaintextCredentialProblems(
  props: Record<string, unknown>,
  additionalSecretOutputs: readonly string[],
): string[] {
  const problems: string[] = [];
  const connectionMarked = isSecretMarked(props.connection) || additionalSecretOutputs.includes("connection");
  const hops: [string, Record<string, unknown>][] = [["connection", obj(unwrap(props.connection))]];
  const proxy = unwrap(hops[0][1].proxy);
  if (isObject(proxy)) hops.push(["connection.proxy", proxy]);

  const credentials: [string, string][] = [];
  for (const [where, hop] of hops) {
    for (const field of ["privateKey", "password", "privateKeyPassword"]) {
      const raw = hop[field];
      const value = str(unwrap(raw));
      if (value === undefined || value === "") continue;
      credentials.push([`${where}.${field}`, value]);
      if (!connectionMarked && !isSecretMarked(raw)) {
        problems.push(
          `${where}.${field} is a plaintext input — read it with config.requireSecret() (pulumi config set --secret) or wrap it in pulumi.secret()`,
        );
      }
    }
  }
  for (const [field, text] of plaintextFields(props)) {
    if (PEM.test(text))
      problems.push(
        `${field} carries PEM key material ("-----BEGIN ...") in plaintext — copy keys to the node another way, never inline in the command`,
      );
    for (const [credField, value] of credentials) {
      if (value.length >= MIN_SECRET_LENGTH && text.includes(value)) {
        problems.push(
          `${field} contains the value of ${credField} in plaintext — do not pass credentials on the command line`,
        );
      }
    }
  }
  return problems;
}

/** Missing host keys of a Command's connection (and its jump host). */
export function missingHostKeys(props: Record<string, unknown>): string[] {
  const conn = obj(unwrap(props.connection));
  const out: string[] = [];
  const host = str(unwrap(conn.host)) ?? "?";
  if (!str(unwrap(conn.hostKey))) out.push(`connection to ${host} has no hostKey`);
  const proxy = unwrap(conn.proxy);
  if (isObject(proxy) && !str(unwrap(proxy.hostKey)))
    out.push(`jump host ${str(unwrap(proxy.host)) ?? "?"} has no hostKey`);
  return out;
}

const HOST_KEY_FIX = "pin it (nodes[].ssh.hostKey / bastion.hostKey, from ssh-keyscan), or SSH accepts any host key";

export const nodePrepNoPlaintextCredentials: ResourceValidationPolicy = {
  name: "node-prep-no-plaintext-credentials",
  description:
    "Node-preparation commands carry no private key or password as plaintext input, and no key material in their scripts.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.remoteCommand) args.notApplicable("not a remote command");
    for (const p of plaintextCredentialProblems(args.props, args.opts?.additionalSecretOutputs ?? []))
      reportViolation(`${args.name}: ${p}`);
  },
};

const environmentSchema = { type: "string" as const, enum: ["lab", "dev", "staging", "production"], default: "dev" };

/** The environment variable of the program's trust-on-first-use record (components/hostKeys.ts). */
const RECORD_HOST_ENV = "KVS_SSH_HOST";

/** A trust-on-first-use host key record: a local command that scans an SSH endpoint. */
export function recordedHostKeyEndpoint(type: string, props: Record<string, unknown>): string | undefined {
  if (type !== TYPES.localCommand) return undefined;
  const env = obj(known(() => props.environment));
  const host = str(env[RECORD_HOST_ENV]);
  return host === undefined ? undefined : `${str(env.KVS_SSH_WHO) ?? host} (${host}:${str(env.KVS_SSH_PORT) ?? "22"})`;
}

export const nodePrepHostKeysProduction: ResourceValidationPolicy = {
  name: "node-prep-host-keys-production",
  description:
    "In production (config environment: production), every SSH connection of node preparation pins the host key (none recorded on first use).",
  enforcementLevel: "mandatory",
  configSchema: { properties: { environment: environmentSchema } },
  validateResource: (args, reportViolation) => {
    const recorded = recordedHostKeyEndpoint(args.type, args.props);
    if (args.type !== TYPES.remoteCommand && recorded === undefined)
      args.notApplicable("not a remote command or a host-key record");
    if ((args.getConfig<HostKeyConfig>().environment ?? "dev") !== "production")
      args.notApplicable("not a production stack");
    if (recorded !== undefined) {
      reportViolation(
        `${args.name}: the host key of ${recorded} is recorded on first use, not pinned, in a production stack — ${HOST_KEY_FIX}`,
      );
      return;
    }
    for (const m of missingHostKeys(args.props))
      reportViolation(`${args.name}: ${m} in a production stack — ${HOST_KEY_FIX}`);
  },
};

export const nodePrepHostKeys: ResourceValidationPolicy = {
  name: "node-prep-host-keys",
  description: "Outside production, SSH connections of node preparation should pin the host key too.",
  enforcementLevel: "advisory",
  configSchema: { properties: { environment: environmentSchema } },
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.remoteCommand) args.notApplicable("not a remote command");
    if (args.getConfig<HostKeyConfig>().environment === "production")
      args.notApplicable("production stacks: see node-prep-host-keys-production");
    for (const m of missingHostKeys(args.props)) reportViolation(`${args.name}: ${m} — ${HOST_KEY_FIX}`);
  },
};
