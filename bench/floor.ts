// The floor: the same number of resources as the program, with trivial inputs, through the
// same SDK and the same mocks. What the Pulumi SDK itself costs; the program is measured
// against it.   node -r ts-node/register/transpile-only bench/floor.ts <resources>
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks } from "../test/harness/mocks";
import { heapAfterGcMb, ProgramSummary } from "../test/harness/runProgram";

async function main(): Promise<void> {
  const n = Number(process.argv[2]);
  const mocks = new RecordingMocks(() => "", false);
  await pulumi.runtime.setMocks(mocks, "floor", "floor", false);
  const started = process.hrtime.bigint();
  await (pulumi.runtime as any).runInPulumiStack(async () => {
    for (let i = 0; i < n - 1; i++) new k8s.core.v1.ConfigMap(`cm-${i}`, { data: { k: "v" } });
    return {};
  });
  await (pulumi.runtime as any).waitForRPCs();
  const summary: ProgramSummary = {
    resources: mocks.count,
    wallMs: Number(process.hrtime.bigint() - started) / 1e6,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    heapAfterGcMb: heapAfterGcMb(),
  };
  process.stdout.write(JSON.stringify(summary));
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(2);
});
