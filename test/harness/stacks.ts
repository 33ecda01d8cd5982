// The one reader of the shipped stack files (stacks/Pulumi.<stack>.yaml) for tests.
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { CONFIG_ROOT } from "../../config/schema";

/** The repository's root. */
export const ROOT = path.join(__dirname, "..", "..");

/** The path of `stacks/Pulumi.<stack>.yaml`. */
export function stackFile(stack: string): string {
  return path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`);
}

/** The names of the shipped stacks, sorted. */
export function shippedStacks(): string[] {
  return fs
    .readdirSync(path.join(ROOT, "stacks"))
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/** A stack file's text and its structured config (the CONFIG_ROOT key; undefined when absent). */

export function readStack(stack: string): { text: string; platform: Record<string, any> | undefined } {
  const text = fs.readFileSync(stackFile(stack), "utf8");
  const doc = yaml.load(text) as { config?: Record<string, unknown> } | undefined;
  // A fresh copy each call: tests edit it before use.

  return { text, platform: structuredClone(doc?.config?.[CONFIG_ROOT]) as Record<string, any> | undefined };
}

/** The structured config of a shipped stack, a fresh copy each call; fails when the file has none. */

export function loadStackConfig(stack: string): Record<string, any> {
  const { platform } = readStack(stack);
  if (platform === undefined) throw new Error(`${stackFile(stack)} has no ${CONFIG_ROOT} key`);
  return platform;
}
