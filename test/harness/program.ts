// Spawns runProgram.ts for one stack and returns what the program registered.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ProgramRequest, ProgramResult } from "./runProgram";

export function runProgram(req: ProgramRequest): ProgramResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-program-"));
  try {
    const file = path.join(dir, "request.json");
    fs.writeFileSync(file, JSON.stringify(req));
    let out: string;
    try {
      out = execFileSync(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), path.join(__dirname, "runProgram.ts"), file], {
        // The program's working directory is the project dir (where it finds the stack file).
        cwd: req.projectDir ?? path.join(__dirname, "..", ".."),
        env: { ...process.env, TS_NODE_PROJECT: path.join(__dirname, "..", "..", "tsconfig.json") },
        maxBuffer: 512 * 1024 * 1024,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      // A failed program leaves SDK promises behind and the SDK then exits non-zero:
      // what the program did is still on stdout.
      const err = e as { stdout?: string; stderr?: string };
      if (!err.stdout) throw new Error(`program harness crashed: ${err.stderr ?? String(e)}`);
      out = err.stdout;
    }
    return JSON.parse(out) as ProgramResult;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A throwaway SSH key for tests (never a real credential). */
export const TEST_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ntest-key-material-not-real\n-----END OPENSSH PRIVATE KEY-----\n";
