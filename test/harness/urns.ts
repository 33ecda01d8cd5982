// The URNs a shipped stack registers, and the committed record of them that guards against a
// change that would replace (delete and recreate) a running stack's resources.
// Regenerate the record deliberately, only when a URN is meant to change:
//   npx ts-node --transpile-only test/harness/urns.ts [stack ...]
import * as fs from "fs";
import * as path from "path";
import { sshPlan, requiredSecrets } from "../../config/ssh";
import { parsePlatform } from "../../config/validate";
import { labManifestPin, runProgram, TEST_PRIVATE_KEY } from "./program";
import type { ProgramRequest } from "./runProgram";
import { loadStackConfig, ROOT } from "./stacks";

/** A resource as a real engine would know it: its URN, and the URNs its aliases stand for. */
export interface RegisteredUrn {
  urn: string;
  aliases: string[];
}

export interface UrnResult {
  resources: RegisteredUrn[];
  error?: string;
}

export const URN_DIR = path.join(ROOT, "test", "fixtures", "urns");

export const SHIPPED_STACKS = fs
  .readdirSync(path.join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .sort();

/**
 * The program's run for a stack config: the operator manifest is the lab's pinned stand-in (a
 * test cannot download the release) and every secret the config names is set.
 */
export function urnRequest(stack: string, platform: Record<string, any>): ProgramRequest {
  const kv = (platform.kubevirt ??= {});
  kv.operatorManifest = labManifestPin();
  const config: Record<string, { value: string; secret: boolean }> = {};
  for (const key of requiredSecrets(sshPlan(parsePlatform(platform))).keys()) {
    config[key] = { value: TEST_PRIVATE_KEY, secret: true };
  }
  return { stack, platform, config };
}

/** Runs the program under the harness's mocks and returns the engine URNs it registered. */
export function registeredUrns(req: ProgramRequest): UrnResult {
  const r = runProgram(req);
  return {
    resources: r.registrations.map((x) => ({ urn: x.engineUrn, aliases: x.aliases })),
    error: r.error?.message,
  };
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
