// Spawns runProgram.ts for one stack and returns what the program registered; and what the
// tests of the whole program share to build its config and look into its result.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { sha256Hex } from "../../render/kubevirt";
import type { RecordedResource } from "./mocks";
import type { ProgramRequest, ProgramResult } from "./runProgram";
import { ROOT } from "./stacks";

export function runProgram(req: ProgramRequest): ProgramResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-program-"));
  try {
    const file = path.join(dir, "request.json");
    fs.writeFileSync(file, JSON.stringify(req));
    let out: string;
    try {
      out = execFileSync(
        process.execPath,
        ["-r", require.resolve("ts-node/register/transpile-only"), path.join(__dirname, "runProgram.ts"), file],
        {
          // The program's working directory is the project dir (where it finds the stack file).
          cwd: req.projectDir ?? path.join(__dirname, "..", ".."),
          env: { ...process.env, TS_NODE_PROJECT: path.join(__dirname, "..", "..", "tsconfig.json") },
          maxBuffer: 512 * 1024 * 1024,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
    } catch (e) {
      // A failed program leaves SDK promises behind and the SDK then exits non-zero:
      // what the program did is still on stdout.
      const err = e as { stdout?: string; stderr?: string };
      if (!err.stdout) throw new Error(`program harness crashed: ${err.stderr ?? String(e)}`, { cause: e });
      out = err.stdout;
    }
    return JSON.parse(out) as ProgramResult;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A throwaway SSH key for tests (never a real credential). */
export const TEST_PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\ntest-key-material-not-real\n-----END OPENSSH PRIVATE KEY-----\n";

/** The secret config every program test sets: the default SSH key, as a secret. */
export const SSH_KEY_CONFIG: NonNullable<ProgramRequest["config"]> = {
  sshPrivateKey: { value: TEST_PRIVATE_KEY, secret: true },
};

/** The lab's pinned stand-in for the KubeVirt operator manifest: a test cannot download the release. */
export const LAB_MANIFEST = "lab/kubevirt-lab-operator.yaml";

/** A `kubevirt.operatorManifest` pinning LAB_MANIFEST by its SHA-256 (the check itself still runs). */
export function labManifestPin(): { file: string; sha256: string } {
  return { file: LAB_MANIFEST, sha256: sha256Hex(fs.readFileSync(path.join(ROOT, LAB_MANIFEST))) };
}

/** The config with its KubeVirt operator manifest set to the lab's pinned one (edited in place). */

export function withLabManifest(cfg: Record<string, any>): Record<string, any> {
  cfg.kubevirt = { ...(cfg.kubevirt ?? {}), operatorManifest: labManifestPin() };
  return cfg;
}

/** The resources the program registered with this type token. */
export function byType(r: ProgramResult, type: string): RecordedResource[] {
  return r.resources.filter((x) => x.type === type);
}

/** The one Kubernetes object of this kind and metadata.name; fails naming those it has. */
export function k8s(r: ProgramResult, kind: string, name: string): RecordedResource {
  const ofKind = r.resources.filter((x) => x.type.startsWith("kubernetes:") && x.type.endsWith(`:${kind}`));
  const found = ofKind.filter((x) => x.inputs.metadata?.name === name);
  assert.equal(found.length, 1, `one ${kind} ${name}; have: ${ofKind.map((x) => x.inputs.metadata?.name).join(", ")}`);
  return found[0];
}
