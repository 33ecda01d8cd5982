// Shared by the voip-*.test.ts files: the kubecon-demo stack as raw config and as a model,
// and checks that the host tools the tests run for real are installed.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { PlatformModel, VmModel } from "../../config/model";
import { parsePlatform } from "../../config/validate";
import { loadStackConfig } from "../harness/stacks";

export const INSTALL_HINT = "run: bash .ci/install-voip-test-deps.sh";

/** Raw stack config, mutated freely by tests before parsing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RawConfig = Record<string, any>;

/** The kubecon-demo stack's model, after `edit` changed its raw config. */
export function demoModel(edit?: (raw: RawConfig) => void): PlatformModel {
  const raw = loadStackConfig("kubecon-demo");
  edit?.(raw);
  return parsePlatform(raw);
}

export function vmNamed(model: PlatformModel, name: string): VmModel {
  const vm = model.vms.find((v) => v.config.name === name);
  if (vm === undefined) throw new Error(`no VM ${name} in the model`);
  return vm;
}

/** Fails (never skips) when a host tool the test needs is missing. */
export function requireTool(binary: string, versionArgs: string[]): void {
  try {
    execFileSync(binary, versionArgs, { stdio: "pipe", timeout: 30_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new Error(`${binary} is not installed: ${INSTALL_HINT}`);
    // Some tools exit non-zero on their version flag; being found is what counts.
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), prefix));
}
