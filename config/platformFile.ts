// Where the platform config comes from: the stack's `kubevirt-sriov:platform` key, or a file the
// stack names with `kubevirt-sriov:platformFile`. Pulumi's Node.js host hands the program the
// whole stack config in one environment variable (PULUMI_CONFIG), and Linux caps one environment
// string at 128 KiB (pulumi/pulumi#8680): about 100 nodes with 4 VMs each. Past that the program
// never starts. A file has no such limit: the program reads it itself, once, like the rest of
// its config, and validates it with the same schema.
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { ConfigError } from "./errors";
import { CONFIG_NAMESPACE, CONFIG_ROOT } from "./schema";
import { securePaths } from "./secretPaths";
import { platformConfigValue } from "./validate";

/** Linux's MAX_ARG_STRLEN: the most one environment string (name=value) may hold. */
export const CONFIG_ENV_LIMIT = 128 * 1024;

/**
 * Bytes of `PULUMI_CONFIG=…` with the NUL that ends it (MAX_ARG_STRLEN counts it): the one
 * environment variable in which Pulumi's Node.js language host hands the program the whole stack
 * config (pulumi/pulumi#8680), an object of every key, each structured value as JSON text. Past
 * CONFIG_ENV_LIMIT the program never starts.
 */
export function pulumiConfigEnvBytes(config: Record<string, unknown>): number {
  const values = Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]);
  return Buffer.byteLength(`PULUMI_CONFIG=${JSON.stringify(Object.fromEntries(values))}`) + 1;
}

/** The stack config key naming the platform file (relative to the project directory). */
export const PLATFORM_FILE_KEY = "platformFile";
export const PLATFORM_FILE_ROOT = `${CONFIG_NAMESPACE}:${PLATFORM_FILE_KEY}`;

export interface PlatformSource {
  /** The config value, not yet validated. */
  raw: unknown;
  /** What problems are reported under: the config key, or the file as the stack names it. */
  root: string;
  /** Read from a platform file (which cannot hold secrets). */
  fromFile: boolean;
}

function refuse(problem: string, fix: string): never {
  throw new ConfigError(PLATFORM_FILE_ROOT, [{ path: [], problem, fix }], "cannot use the platform file");
}

/**
 * The platform config from the stack's two keys (their values as the engine hands them over),
 * reading the file, if one is named, relative to `projectDir`.
 */
export function platformSource(
  inline: string | undefined,
  file: string | undefined,
  stack: string,
  projectDir: string = process.cwd(),
): PlatformSource {
  if (file === undefined) return { raw: platformConfigValue(inline, stack), root: CONFIG_ROOT, fromFile: false };
  if (inline !== undefined) {
    refuse(
      `names ${JSON.stringify(file)}, but the stack sets ${CONFIG_ROOT} too, and the program will not guess which one holds the platform`,
      `keep one: remove ${CONFIG_ROOT} from stacks/Pulumi.${stack}.yaml, or remove ${PLATFORM_FILE_ROOT}`,
    );
  }
  const full = path.resolve(projectDir, file);
  let text: string;
  try {
    text = fs.readFileSync(full, "utf8");
  } catch (e) {
    refuse(
      `cannot read ${full}: ${(e as Error).message}`,
      "point it at a YAML file holding the platform map (nodes, pools, networks, VMs), relative to the project directory",
    );
  }
  let raw: unknown;
  try {
    raw = yaml.load(text);
  } catch (e) {
    refuse(`${file} is not valid YAML: ${(e as Error).message.split("\n")[0]}`, "fix the YAML (JSON is YAML too)");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    refuse(
      `${file} holds ${raw === null || raw === undefined ? "nothing" : Array.isArray(raw) ? "a list" : "a single value"}, not the platform map`,
      "write the platform's keys (nodes, pools, networks, vms, ...) at the top level of the file, as under kubevirt-sriov:platform in a stack file",
    );
  }
  // Only the engine decrypts `{secure: …}` values, and only in the stack file: one here would reach
  // the schema as an unreadable map, or worse, as text.
  const secrets = securePaths(raw);
  if (secrets.length > 0) {
    throw new ConfigError(
      file,
      secrets.map((p) => ({
        path: p,
        problem: "is encrypted ({secure: …}), but only values in the stack file can be decrypted",
        fix: `keep the platform in the stack file (${CONFIG_ROOT}) when part of it must be secret, or write this value in plain text`,
      })),
      "secret values in a platform file",
    );
  }
  return { raw, root: file, fromFile: true };
}
