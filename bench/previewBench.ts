// Where a no-op preview of the lab stack spends its time (`npm run bench -- --preview`): the same
// engine and backend run an empty program, a program that only starts the two providers (one
// ConfigMap, one local command), and the lab stack (3 simulated nodes) as shipped (main.js runs
// the program compiled into bin/) and without a build (main.js compiles it on the fly, ts-node
// without a type check, as every run did before bin/).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { Lab, REPO } from "../lab/lab";
import { fmt, Stat, stat } from "./stats";

export interface PreviewRow {
  label: string;
  seconds: Stat;
}

// The baselines. The target's reference is an empty TypeScript program as `pulumi new typescript`
// makes one (the engine compiles and type-checks it with ts-node: what "3.5×" was measured
// against). An empty JavaScript program is the stricter floor: nothing compiled on the run, as
// with the program's own build. The providers program is JavaScript too.
const PROVIDERS_PROGRAM = `const command = require("@pulumi/command");
const k8s = require("@pulumi/kubernetes");
new k8s.core.v1.ConfigMap("one", { metadata: { namespace: "default" }, data: { k: "v" } });
new command.local.Command("one", { create: "true" });
`;

function project(lab: Lab, name: string, program: string, language: "typescript" | "javascript"): string {
  const dir = path.join(lab.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  const main = language === "typescript" ? "index.ts" : "index.js";
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    yaml.dump({ name, main, runtime: { name: "nodejs", options: { typescript: language === "typescript" } } }),
  );
  fs.writeFileSync(path.join(dir, main), program);
  if (!fs.existsSync(path.join(dir, "node_modules")))
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

function timed(what: string, run: () => { status: number | null; stdout: string; stderr: string }): number {
  const t0 = process.hrtime.bigint();
  const r = run();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return s;
}

export async function previewBreakdown(
  runs: number,
  portBase: number,
): Promise<{ rows: PreviewRow[]; sessions: number }> {
  const lab = new Lab({ dir: fs.mkdtempSync(path.join(os.tmpdir(), "kvs-bench-preview-")), portBase, quiet: true });
  try {
    await lab.start();
    timed("lab up", () => lab.up());
    const pulumi = path.join(lab.bin(), "pulumi");
    const inDir = (dir: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(pulumi, [...args, "--non-interactive"], { cwd: dir, env: { ...lab.env(), ...env }, encoding: "utf8" });
    const empty = project(lab, "empty", "export {};\n", "typescript");
    const emptyJs = project(lab, "empty-js", "module.exports = {};\n", "javascript");
    const providers = project(lab, "providers", PROVIDERS_PROGRAM, "javascript");
    for (const dir of [empty, emptyJs, providers]) {
      timed("stack init", () => inDir(dir, ["stack", "init", "bench", "--secrets-provider", "passphrase"]));
      timed("up", () => inDir(dir, ["up", "--yes", "--skip-preview", "--stack", "bench"]));
    }
    const labPreview = (env: NodeJS.ProcessEnv) => () =>
      inDir(lab.projectDir, ["preview", "--expect-no-changes", "--stack", "lab"], env);
    const cases: [string, () => { status: number | null; stdout: string; stderr: string }][] = [
      [
        "empty program (TypeScript as `pulumi new typescript` makes it: ts-node, type-checked)",
        () => inDir(empty, ["preview", "--expect-no-changes", "--stack", "bench"]),
      ],
      ["empty program (JavaScript)", () => inDir(emptyJs, ["preview", "--expect-no-changes", "--stack", "bench"])],
      [
        "both providers started, one resource each",
        () => inDir(providers, ["preview", "--expect-no-changes", "--stack", "bench"]),
      ],
      ["lab stack as shipped (main.js runs the build in bin/)", labPreview({})],
      [
        "lab stack without a build (main.js compiles it on the fly: ts-node, no type check)",
        labPreview({ KUBEVIRT_SRIOV_PROGRAM: "source" }),
      ],
    ];
    const samples = cases.map(() => [] as number[]);
    const sessionsBefore = lab.nodes.reduce((a, n) => a + n.sessions(), 0);
    for (let i = 0; i < runs; i++) {
      for (const [j, [label, run]] of cases.entries()) {
        samples[j].push(timed(label, run));
        process.stderr.write(`  no-op preview, run ${i + 1}/${runs}: ${label} ${samples[j][i].toFixed(1)} s\n`);
      }
    }
    const sessions = lab.nodes.reduce((a, n) => a + n.sessions(), 0) - sessionsBefore;
    for (const dir of [empty, emptyJs, providers])
      inDir(dir, ["destroy", "--yes", "--skip-preview", "--stack", "bench"]);
    timed("lab destroy", () => lab.destroy());
    return { rows: cases.map(([label], j) => ({ label, seconds: stat(samples[j]) })), sessions };
  } finally {
    await lab.stop();
    fs.rmSync(lab.dir, { recursive: true, force: true });
  }
}

export function previewTable(b: { rows: PreviewRow[]; sessions: number }, runs: number): string {
  // Rows 0 and 1 are the two empty programs (TypeScript, the target's reference; JavaScript).
  const [ts, js] = [b.rows[0].seconds.median, b.rows[1].seconds.median];
  return [
    "| no-op preview | s | × empty TypeScript program | × empty JavaScript program |",
    "|---|---|---|---|",
    ...b.rows.map(
      (r) =>
        `| ${r.label} | ${fmt(r.seconds, 1)} | ${(r.seconds.median / ts).toFixed(2)} | ${(r.seconds.median / js).toFixed(2)} |`,
    ),
    "",
    `Median (min–max) of ${runs} runs, interleaved. SSH sessions opened by the lab stack's no-op previews: ${b.sessions}.`,
  ].join("\n");
}
