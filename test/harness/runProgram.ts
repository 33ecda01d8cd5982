// Runs the real program (index.ts) under mocks in THIS process and prints what it
// registered as JSON. One program per process (Node's module cache): tests spawn it.
//   node -r ts-node/register/transpile-only test/harness/runProgram.ts <request.json>
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { captureWarnings, RecordedResource, RecordingMocks, Registration } from "./mocks";
import { CONFIG_ROOT } from "../../config/schema";

export interface ProgramRequest {
  stack: string;
  /** The structured config (kubevirt-sriov:platform). */
  platform: unknown;
  /** Other config values by `namespace:key` (a bare key is kubevirt-sriov:<key>); `secret: true` marks them secret. */
  config?: Record<string, { value: string; secret: boolean }>;
  /** Mark the platform key secret, as the engine does when any leaf of it was set with --secret. */
  platformSecret?: boolean;
  /** The program's working directory (default: the repository), where it looks for the stack file. */
  projectDir?: string;
  preview?: boolean;
  /** The module to run as the program (default: index.ts; main.js to go through the engine's entry point). */
  entry?: string;
  /** Benchmarks: print counts, wall time and peak RSS instead of every resource. */
  summary?: boolean;
  /** Benchmarks: add up the state's size (resource inputs and outputs, stack outputs) in the summary. */
  stateBytes?: boolean;
}

export interface ProgramSummary {
  resources: number;
  wallMs: number;
  maxRssMb: number;
  /** With `stateBytes`: JSON bytes of every resource's inputs and outputs plus the stack outputs. */
  stateBytes?: number;
  /** Under --expose-gc: V8 heap used after a forced full GC at the end of registration (GC-stable, unlike peak RSS). */
  heapAfterGcMb?: number;
  error?: string;
}

export interface ProgramResult {
  resources: RecordedResource[];
  /** Every registration's URN and parent URN, as the engine saw them. */
  registrations: Registration[];
  /** What the program logged with pulumi.log.warn (without an engine the SDK prints them). */
  warnings: string[];
  outputs?: Record<string, any>;
  error?: { name: string; message: string };
}

async function main(): Promise<void> {
  const req = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as ProgramRequest;
  const mocks = new RecordingMocks(undefined, !req.summary, req.stateBytes ?? false);
  const all: Record<string, string> = { [CONFIG_ROOT]: JSON.stringify(req.platform) };
  const secretKeys: string[] = req.platformSecret ? [CONFIG_ROOT] : [];
  for (const [k, v] of Object.entries(req.config ?? {})) {
    const full = k.includes(":") ? k : `kubevirt-sriov:${k}`;
    all[full] = v.value;
    if (v.secret) secretKeys.push(full);
  }
  pulumi.runtime.setAllConfig(all, secretKeys);
  await mocks.install(req.stack, req.preview ?? false);
  const { warnings } = captureWarnings();
  const result: ProgramResult = { resources: mocks.resources, registrations: mocks.registrations, warnings };
  // A failing program rejects promises the SDK holds too: report the first error once.
  let reported = false;
  const report = (e: unknown) => {
    if (reported) return;
    reported = true;
    const err = e as Error;
    result.error = { name: err?.constructor?.name ?? "Error", message: err?.message ?? String(e) };
    process.stdout.write(JSON.stringify(result));
    process.exit(0);
  };
  process.on("unhandledRejection", report);
  process.on("uncaughtException", report);
  // Loading (and transpiling) the modules is not the program's run: time starts after it.
  let program: () => Promise<Record<string, unknown>>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    program = require(req.entry ?? "../../index") as () => Promise<Record<string, unknown>>;
  } catch (e) {
    report(e);
    return;
  }
  const started = process.hrtime.bigint();
  try {
    const outputs = await (pulumi.runtime as any).runInPulumiStack(program);
    await (pulumi.runtime as any).waitForRPCs();
    result.outputs = JSON.parse(JSON.stringify(outputs ?? {}));
  } catch (e) {
    report(e);
    return;
  }
  reported = true;
  if (req.summary) {
    const summary: ProgramSummary = {
      resources: mocks.count,
      wallMs: Number(process.hrtime.bigint() - started) / 1e6,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      heapAfterGcMb: heapAfterGcMb(),
    };
    if (req.stateBytes) summary.stateBytes = mocks.stateBytes + JSON.stringify(result.outputs).length;
    process.stdout.write(JSON.stringify(summary));
    return;
  }
  process.stdout.write(JSON.stringify(result));
}

/** V8 heap used after a forced full GC, when the process runs with --expose-gc. */
export function heapAfterGcMb(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

if (require.main === module)
  main().catch((e) => {
    process.stderr.write(String(e?.stack ?? e));
    process.exit(2);
  });
