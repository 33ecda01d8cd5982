// The one Pulumi mocks class of the tests: it records every resource the program or a
// component registers (with the URN and parent the engine would see), answers remote commands
// (by default with the node report a healthy node gives for the desired state they carry) and
// runs local commands for real.
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { HOSTKEY_HOST_ENV } from "../../components/hostKeys";
import { fakeNodeReportStdout } from "./nodeReports";

/** The project every test runs as (Pulumi.yaml's name; owners and URNs carry it). */
export const PROJECT = "kubevirt-sriov";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

/** One registration as the engine saw it: the URN it gave, and the parent's URN ("" for none). */
export interface Registration {
  type: string;
  name: string;
  /** The mock monitor's URN: its type part carries only the parent's own type. */
  urn: string;
  parent: string;
  /** The URN a real engine gives: the whole chain of parent types (the root stack's left out). */
  engineUrn: string;
  /** Engine URNs the resource also answers to: its aliases, resolved against its parent. */
  aliases: string[];
}

/** What a remote command prints, given the resource's name and inputs. */
export type CommandStdout = (resourceName: string, inputs: Record<string, any>) => string;

export class RecordingMocks implements pulumi.runtime.Mocks {
  readonly resources: RecordedResource[] = [];
  /** After `install`: every registration's URN and parent, in the order the engine answered them. */
  readonly registrations: Registration[] = [];
  /** Resources registered, also when they are not kept. */
  count = 0;
  /** Mock URN → engine URN, filled as parents register (always before their children). */
  private readonly engineUrns = new Map<string, string>();
  /** With `measure`: JSON bytes of every resource's inputs and outputs, what the engine's state keeps of them. */
  stateBytes = 0;

  /**
   * `keep: false` (benchmarks) counts resources without holding on to their inputs; `measure`
   * (benchmarks) adds up their size in the state.
   */
  constructor(
    private readonly commandStdout: CommandStdout = (_name, inputs) => fakeNodeReportStdout(inputs),
    private readonly keep = true,
    private readonly measure = false,
  ) {}

  /**
   * Makes these mocks the runtime's, for `stack` of PROJECT, and records what the engine's
   * side sees of each registration: mocks themselves are told neither parent nor URN.
   */
  async install(stack: string, preview = false): Promise<this> {
    await pulumi.runtime.setMocks(this, PROJECT, stack, preview);
    const monitor = pulumi.runtime.getMonitor() as unknown as Record<string, MonitorMethod>;
    for (const method of ["registerResource", "readResource"]) {
      const original = monitor[method].bind(monitor);
      monitor[method] = (req, callback) =>
        original(req, (err, res) => {
          if (!err && res && this.keep) {
            const [type, name, parent] = [req.getType(), req.getName(), req.getParent()];
            const engineUrn = this.engineUrn(parent, type, name);
            this.engineUrns.set(res.getUrn(), engineUrn);
            const aliases = (req.getAliasesList?.() ?? []).map((a) => {
              const spec = a.getSpec();
              if (spec === undefined) return a.getUrn();
              const aliasParent = spec.getNoparent() ? "" : spec.getParenturn() || parent;
              return this.engineUrn(aliasParent, spec.getType() || type, spec.getName() || name);
            });
            this.registrations.push({ type, name, urn: res.getUrn(), parent, engineUrn, aliases });
          }
          callback(err, res);
        });
    }
    return this;
  }

  /** The URN the engine builds: the parent's type chain (none for the root stack), then type and name. */
  private engineUrn(parentMockUrn: string, type: string, name: string): string {
    const parentUrn = parentMockUrn ? (this.engineUrns.get(parentMockUrn) ?? parentMockUrn) : "";
    const parentChain = parentUrn ? parentUrn.split("::")[2] : "pulumi:pulumi:Stack";
    const chain = parentChain === "pulumi:pulumi:Stack" ? type : `${parentChain}$${type}`;
    return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${chain}::${name}`;
  }

  /** Forgets what was recorded (a suite that installs once and checks per test). */
  clear(): void {
    this.resources.length = 0;
    this.registrations.length = 0;
  }

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
    const found = this.resources.filter(
      (r) => r.type === type && (typeof name === "string" ? r.name === name : name.test(r.name)),
    );
    if (found.length !== 1)
      throw new Error(
        `expected one ${type} named ${name}, found ${found.length}: ${this.resources
          .filter((r) => r.type === type)
          .map((r) => r.name)
          .join(", ")}`,
      );
    return found[0];
  }
}

/**
 * Collects what is logged with pulumi.log.warn: without an engine the SDK prints it with
 * console.warn as "warning: [runtime] <msg>". Other console output passes through; `stop`
 * puts console.warn back.
 */
export function captureWarnings(): { warnings: string[]; stop: () => void } {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    const m = /^warning: \[runtime\] ([\s\S]*)$/.exec(args.map(String).join(" "));
    if (m) warnings.push(m[1]);
    else warn.apply(console, args);
  };
  return { warnings, stop: () => void (console.warn = warn) };
}

/** The part of the mock monitor's registerResource/readResource that `install` wraps. */
type MonitorMethod = (
  req: {
    getType(): string;
    getName(): string;
    getParent(): string;
    /** registerResource only. */
    getAliasesList?(): {
      getUrn(): string;
      getSpec(): { getName(): string; getType(): string; getParenturn(): string; getNoparent(): boolean } | undefined;
    }[];
  },
  callback: (err: unknown, res?: { getUrn(): string }) => void,
) => Promise<void>;

/**
 * Trust-on-first-use host key records (components/hostKeys.ts) would scan the stack's hosts:
 * the mocks answer them with a key derived from host and port instead (tests of the script
 * itself run it against a real sshd).
 */
function fakeHostKey(env: Record<string, string>): { stdout: string; stderr: string } {
  // Scanned elsewhere (on a jump host): the record keeps what that scan printed.
  const scanned = /\S+ (\S+ \S+)/.exec(env.KVS_SSH_SCANNED ?? "");
  if (scanned) return { stdout: scanned[1], stderr: "" };
  const blob = Buffer.concat([
    Buffer.from("\0\0\0\x0bssh-ed25519\0\0\0\x20", "latin1"),
    createHash("sha256").update(`${env.KVS_SSH_HOST}:${env.KVS_SSH_PORT}`).digest(),
  ]);
  return { stdout: `ssh-ed25519 ${blob.toString("base64")}`, stderr: "" };
}

/**
 * Local commands run for real, as the command provider would run them (`sh -c`, with stdin and
 * environment): the injector's certificate command then yields a real bundle under mocks.
 */
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
