// The URNs a shipped stack registers, and the committed record of them that guards against a
// change that would replace (delete and recreate) a running stack's resources.
// Regenerate the record deliberately, only when a URN is meant to change:
//   npx ts-node --transpile-only test/urns/stackUrns.ts [stack ...]
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { sshPlan, requiredSecrets } from "../../config/ssh";
import { parsePlatform } from "../../config/validate";
import { sha256Hex } from "../../render/kubevirt";
import { loadStackConfig, ROOT } from "../fixtures/stacks";
import { TEST_PRIVATE_KEY } from "../harness/program";
import type { ProgramRequest } from "../harness/runProgram";
import type { UrnResult } from "./runUrns";

export const URN_DIR = path.join(ROOT, "test", "fixtures", "urns");
const LAB_MANIFEST = "lab/kubevirt-lab-operator.yaml";

export const SHIPPED_STACKS = fs.readdirSync(path.join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .sort();

/**
 * The program's run for a stack config: the operator manifest is the lab's pinned stand-in (a
 * test cannot download the release) and every secret the config names is set.
 */
export function urnRequest(stack: string, platform: Record<string, any>): ProgramRequest {
  const kv = (platform.kubevirt ??= {});
  kv.operatorManifest = { file: LAB_MANIFEST, sha256: sha256Hex(fs.readFileSync(path.join(ROOT, LAB_MANIFEST))) };
  const config: Record<string, { value: string; secret: boolean }> = {};
  for (const key of requiredSecrets(sshPlan(parsePlatform(platform))).keys()) {
    config[key] = { value: TEST_PRIVATE_KEY, secret: true };
  }
  return { stack, platform, config };
}

/** Runs the program in a child process (one program per process) and returns what it registered. */
export function registeredUrns(req: ProgramRequest): UrnResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-urns-"));
  try {
    const file = path.join(dir, "request.json");
    fs.writeFileSync(file, JSON.stringify(req));
    const out = execFileSync(process.execPath, [
      "-r", require.resolve("ts-node/register/transpile-only"), path.join(__dirname, "runUrns.ts"), file,
    ], {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_PROJECT: path.join(ROOT, "tsconfig.json") },
      maxBuffer: 256 * 1024 * 1024,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return JSON.parse(out) as UrnResult;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function stackUrns(stack: string): UrnResult {
  return registeredUrns(urnRequest(stack, loadStackConfig(stack)));
}

export function urnFixture(stack: string): string {
  return path.join(URN_DIR, `${stack}.json`);
}

if (require.main === module) {
  const stacks = process.argv.length > 2 ? process.argv.slice(2) : SHIPPED_STACKS;
  fs.mkdirSync(URN_DIR, { recursive: true });
  for (const stack of stacks) {
    const r = stackUrns(stack);
    if (r.error !== undefined) throw new Error(`stack ${stack}: ${r.error}`);
    const urns = r.resources.map((x) => x.urn).sort();
    fs.writeFileSync(urnFixture(stack), `${JSON.stringify(urns, null, 1)}\n`);
    process.stdout.write(`${stack}: ${urns.length} URNs\n`);
  }
}
