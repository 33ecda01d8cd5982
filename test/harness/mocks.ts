// Pulumi mocks that record every resource the program registers, answering node-prep
// commands with a node report built from the desired state they carry.
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { HOSTKEY_HOST_ENV } from "../../components/hostKeys";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

export type CommandStdout = (resourceName: string, inputs: Record<string, any>) => string;

export class RecordingMocks implements pulumi.runtime.Mocks {
  readonly resources: RecordedResource[] = [];
  /** Resources registered, also when they are not kept. */
  count = 0;
  /** With `measure`: JSON bytes of every resource's inputs and outputs, what the engine's state keeps of them. */
  stateBytes = 0;

  /**
   * `keep: false` (benchmarks) counts resources without holding on to their inputs; `measure`
   * (benchmarks) adds up their size in the state.
   */
  constructor(private readonly commandStdout: CommandStdout, private readonly keep = true, private readonly measure = false) {}

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } {
    this.count++;
    if (this.keep) this.resources.push({ type: args.type, name: args.name, inputs: args.inputs });
    const state: Record<string, any> = { ...args.inputs };
    if (args.type === "command:remote:Command") {
      state.stdout = this.commandStdout(args.name, args.inputs);
      state.stderr = "";
    }
    if (args.type === "command:local:Command") Object.assign(state, runLocalCommand(args.inputs));
    if (args.type.startsWith("kubernetes:") && state.metadata && state.metadata.name === undefined) {
      state.metadata = { ...state.metadata, name: `${args.name}-generated` };
    }
    if (this.measure) this.stateBytes += JSON.stringify(args.inputs).length + JSON.stringify(state).length;
    return { id: `${args.name}_id`, state };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    return args.inputs;
  }

  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  one(type: string, name: string | RegExp): RecordedResource {
    const found = this.resources.filter((r) => r.type === type && (typeof name === "string" ? r.name === name : name.test(r.name)));
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}: ${this.resources.filter((r) => r.type === type).map((r) => r.name).join(", ")}`);
    return found[0];
  }
}

/** Unwraps the secret envelope the SDK sends to mocks. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
}

/**
 * Local commands run for real, as the command provider would run them (`sh -c`, with stdin and
 * environment): the injector's certificate command then yields a real bundle under mocks.
 */
/**
 * Trust-on-first-use host key records (components/hostKeys.ts) would scan the stack's hosts:
 * the mocks answer them with a key derived from host and port instead (tests of the script
 * itself run it against a real sshd).
 */
function fakeHostKey(env: Record<string, string>): { stdout: string; stderr: string } {
  // Scanned elsewhere (on a jump host): the record keeps what that scan printed.
  const scanned = /\S+ (\S+ \S+)/.exec(env.KVS_SSH_SCANNED ?? "");
  if (scanned) return { stdout: scanned[1], stderr: "" };
  const blob = Buffer.concat([Buffer.from("\0\0\0\x0bssh-ed25519\0\0\0\x20", "latin1"), createHash("sha256").update(`${env.KVS_SSH_HOST}:${env.KVS_SSH_PORT}`).digest()]);
  return { stdout: `ssh-ed25519 ${blob.toString("base64")}`, stderr: "" };
}

function runLocalCommand(inputs: Record<string, any>): { stdout: string; stderr: string } {
  if (inputs.environment?.[HOSTKEY_HOST_ENV] !== undefined) return fakeHostKey(inputs.environment);
  const r = spawnSync("sh", ["-c", String(inputs.create)], {
    input: inputs.stdin ?? "",
    env: { ...process.env, ...(inputs.environment ?? {}) },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`local command failed (${r.status}): ${r.stderr}`);
  return { stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") };
}
