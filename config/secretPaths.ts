// Which parts of the structured config are secret. `pulumi config set --secret --path
// platform.vms[0].custom.userData …` encrypts one leaf in the stack file, but the engine hands
// the program the whole `platform` key decrypted and only says "this key holds a secret":
// `requireObject` would then put the value in plaintext into the VM spec, the state and the diff.
// So the program reads the stack file for the encrypted leaves (`{secure: …}`) and accepts a
// secret only where it can keep it secret all the way through.
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { ConfigError, ConfigProblem, PathSegment } from "./errors";

/** Leaves that may be secret: each goes only into a Kubernetes Secret (and secret outputs). */
const SECRET_CAPABLE: readonly RegExp[] = [/^vms\.\d+\.custom\.userData$/];

/** Paths (as config path segments) of every `{secure: …}` leaf in a config value. */
export function securePaths(value: unknown, at: PathSegment[] = []): PathSegment[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => securePaths(v, [...at, i]));
  if (typeof value !== "object" || value === null) return [];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1 && entries[0][0] === "secure" && typeof entries[0][1] === "string") return [at];
  return entries.flatMap(([k, v]) => securePaths(v, [...at, k]));
}

/** A problem for every secret leaf the program would have to render in plaintext. */
export function checkSecretPaths(paths: readonly PathSegment[][]): ConfigProblem[] {
  return paths
    .filter((p) => !SECRET_CAPABLE.some((re) => re.test(p.join("."))))
    .map((p) => ({
      path: p,
      problem:
        "is set with --secret, but the program renders it into plain Kubernetes objects and outputs, so it would not stay secret",
      fix: "set it without --secret (only vms[].custom.userData can be secret: it goes into a Kubernetes Secret), or keep the sensitive part in custom user data",
    }));
}

/** The VMs whose custom user data is secret, by index in `vms`. */
export function secretUserDataVms(paths: readonly PathSegment[][]): Set<number> {
  return new Set(
    paths.filter((p) => p[0] === "vms" && p[2] === "custom" && p[3] === "userData").map((p) => p[1] as number),
  );
}

/**
 * The stack file the engine read: `<project dir>/<stackConfigDir>/Pulumi.<stack>.yaml`, the
 * project dir being the program's working directory. Undefined when there is none (config from
 * an ESC environment or the service).
 */
export function readStackConfigFile(
  stack: string,
  projectDir: string = process.cwd(),
): Record<string, unknown> | undefined {
  let configDir = ".";
  try {
    const project = yaml.load(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as {
      stackConfigDir?: string;
    };
    if (typeof project?.stackConfigDir === "string") configDir = project.stackConfigDir;
  } catch {
    return undefined;
  }
  const file = path.join(projectDir, configDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) return undefined;
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined;
  return doc?.config ?? {};
}

/**
 * The VMs (by index) whose custom user data is secret, given whether the engine marked the
 * whole key secret. Throws a ConfigError for a secret the program cannot keep, or when the key
 * is secret but the stack file that says which part is cannot be read.
 */
export function secretPartsOf(
  root: string,
  keyIsSecret: boolean,
  stackFile: Record<string, unknown> | undefined,
  stack: string,
): Set<number> {
  if (!keyIsSecret) return new Set();
  const value = stackFile?.[root];
  if (value === undefined) {
    throw new ConfigError(
      root,
      [
        {
          path: [],
          problem: `holds a secret value, but the stack file (Pulumi.${stack}.yaml) that says which part is secret could not be read, so the program cannot keep it secret`,
          fix: "keep the structured config in the stack file, with only vms[].custom.userData set by `pulumi config set --secret --path`",
        },
      ],
      "secret values the program cannot keep secret",
    );
  }
  const paths = securePaths(value);
  const problems = checkSecretPaths(paths);
  if (problems.length > 0) throw new ConfigError(root, problems, "secret values the program cannot keep secret");
  return secretUserDataVms(paths);
}
