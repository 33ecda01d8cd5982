// The lab half of the benchmarks: needs the lab toolchain (lab/toolchain.sh).
import { spawnSync } from "child_process";
import * as path from "path";

const ROOT = path.join(__dirname, "..");

export function labBenchmarks(runs: number): string {
  const tc = spawnSync("bash", [path.join(ROOT, "lab", "toolchain.sh"), "path"], { encoding: "utf8" });
  if (tc.status !== 0) {
    return "Not run: the lab toolchain is not built on this machine (`bash lab/toolchain.sh ensure`, or `npm run lab`, builds it).";
  }
  const r = spawnSync("bash", [path.join(ROOT, "lab", "bench.sh"), String(runs)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], cwd: ROOT });
  if (r.status !== 0) return `The lab benchmark failed (exit ${r.status}); see its output above.`;
  return r.stdout.trim();
}
