// Runs the real program (index.ts) under mocks in THIS process and prints the URN of every
// resource it registers, with the URNs its aliases stand for, as JSON. One program per
// process (Node's module cache): stackUrns.ts spawns it.
//   node -r ts-node/register/transpile-only test/urns/runUrns.ts <request.json>
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks } from "../harness/mocks";
import { fakeNodeReportStdout } from "../harness/nodeReports";
import type { ProgramRequest } from "../harness/runProgram";

export interface RegisteredUrn {
  urn: string;
  /** The URNs this resource answers to besides its own (its aliases, resolved). */
  aliases: string[];
}

export interface UrnResult {
  resources: RegisteredUrn[];
  error?: string;
}

/** What the mock monitor hands registerResource (the SDK's protobuf request, as far as read here). */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getAliasesList(): {
    getUrn(): string;
    getSpec(): { getName(): string; getType(): string; getParenturn(): string; getNoparent(): boolean } | undefined;
  }[];
}

/**
 * The mock monitor's URNs carry only the parent's own type (runtime/mocks.js newUrn); the
 * engine's carry the whole chain of parent types. Mock URN → engine URN, filled as parents
 * register (before their children).
 */
const engineUrns = new Map<string, string>();

function urnOf(parent: string, type: string, name: string): string {
  // As the engine builds them: the root stack's type is not part of the chain.
  const parentChain = parent ? (engineUrns.get(parent) ?? parent).split("::")[2] : "pulumi:pulumi:Stack";
  const chain = parentChain === "pulumi:pulumi:Stack" ? type : `${parentChain}$${type}`;
  return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${chain}::${name}`;
}

function mockUrnOf(parent: string, type: string, name: string): string {
  const qualified = parent ? `${parent.split("::")[2].split("$").pop()}$${type}` : type;
  return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualified}::${name}`;
}

function aliasUrns(req: RegisterRequest): string[] {
  return req.getAliasesList().map((a) => {
    const spec = a.getSpec();
    if (spec === undefined) return a.getUrn();
    const parent = spec.getNoparent() ? "" : spec.getParenturn() || req.getParent();
    return urnOf(parent, spec.getType() || req.getType(), spec.getName() || req.getName());
  });
}

async function main(): Promise<void> {
  const req = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as ProgramRequest;
  const all: Record<string, string> = { "kubevirt-sriov:platform": JSON.stringify(req.platform) };
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(req.config ?? {})) {
    all[`kubevirt-sriov:${k}`] = v.value;
    if (v.secret) secretKeys.push(`kubevirt-sriov:${k}`);
  }
  pulumi.runtime.setAllConfig(all, secretKeys);
  const mocks = new RecordingMocks((_n, inputs) => fakeNodeReportStdout(inputs), false);
  await pulumi.runtime.setMocks(mocks, "kubevirt-sriov", req.stack, false);
  const result: UrnResult = { resources: [] };
  // The mocks see neither parents nor aliases: read them where the monitor gets the request.
  type Monitor = { registerResource(r: RegisterRequest, cb: unknown): unknown };
  const monitor = (pulumi.runtime as unknown as { getMonitor(): Monitor }).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (r, cb) => {
    const urn = urnOf(r.getParent(), r.getType(), r.getName());
    engineUrns.set(mockUrnOf(r.getParent(), r.getType(), r.getName()), urn);
    result.resources.push({ urn, aliases: aliasUrns(r) });
    return register(r, cb);
  };
  let reported = false;
  const report = (e: unknown) => {
    if (reported) return;
    reported = true;
    result.error = (e as Error)?.message ?? String(e);
    process.stdout.write(JSON.stringify(result));
    process.exit(0);
  };
  process.on("unhandledRejection", report);
  process.on("uncaughtException", report);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const program = require("../../index") as () => Promise<Record<string, unknown>>;
    await (pulumi.runtime as any).runInPulumiStack(program);
    await (pulumi.runtime as any).waitForRPCs();
  } catch (e) {
    report(e);
    return;
  }
  reported = true;
  process.stdout.write(JSON.stringify(result));
}

if (require.main === module) main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(2);
});
