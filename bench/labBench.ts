// The lab half of the benchmarks (needs the lab toolchain): node preparation of 1, 8 and 16
// simulated nodes in one `pulumi up`, SSH sessions per node per up, and a no-op preview of
// the lab stack against an empty program's preview. All through the real engine and SSH.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { Lab } from "../lab/lab";

interface Stat {
  median: number;
  min: number;
  max: number;
}
function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] };
}
const fmt = (s: Stat) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

function timed(run: () => { status: number | null; stdout: string; stderr: string }, what: string): number {
  const t0 = process.hrtime.bigint();
  const r = run();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return s;
}

async function nodePrep(
  nodes: number,
  runs: number,
  portBase: number,
): Promise<{ nodes: number; seconds: Stat; sessionsPerNode: number }> {
  const lab = new Lab({
    dir: fs.mkdtempSync(path.join(os.tmpdir(), `kvs-bench-${nodes}-`)),
    portBase,
    quiet: true,
    nodeCount: nodes,
  });
  try {
    await lab.start();
    timed(() => lab.up(), "first up");
    const samples: number[] = [];
    const before = lab.nodes.map((n) => n.sessions());
    for (let i = 0; i < runs; i++) {
      // Every node's first PF changes its VF count: each up prepares all nodes again.
      const vfs = i % 2 === 0 ? 3 : 4;
      lab.editPlatform((p) => p.nodes.forEach((n: any) => (n.physicalFunctions[0].numVfs = vfs)));
      samples.push(timed(() => lab.up(), `up with ${nodes} nodes`));
      process.stderr.write(`  node preparation, ${nodes} node(s): run ${i + 1}/${runs} ${samples[i].toFixed(1)} s\n`);
    }
    const sessions = lab.nodes.map((n, i) => n.sessions() - before[i]).reduce((a, b) => a + b, 0);
    timed(() => lab.destroy(), "destroy");
    return { nodes, seconds: stat(samples), sessionsPerNode: sessions / (nodes * runs) };
  } finally {
    lab.stop();
    fs.rmSync(lab.dir, { recursive: true, force: true });
  }
}

/** The lab stack's no-op preview against an empty program's, same engine, same backend. */
async function noopPreview(runs: number, portBase: number): Promise<{ lab: Stat; empty: Stat; sessions: number }> {
  const lab = new Lab({ dir: fs.mkdtempSync(path.join(os.tmpdir(), "kvs-bench-preview-")), portBase, quiet: true });
  try {
    await lab.start();
    timed(() => lab.up(), "up");
    const emptyDir = path.join(lab.dir, "empty");
    fs.mkdirSync(emptyDir, { recursive: true });
    fs.writeFileSync(
      path.join(emptyDir, "Pulumi.yaml"),
      yaml.dump({ name: "empty", runtime: { name: "nodejs", options: { typescript: true } } }),
    );
    fs.writeFileSync(path.join(emptyDir, "index.ts"), "export {};\n");
    fs.symlinkSync(path.join(__dirname, "..", "node_modules"), path.join(emptyDir, "node_modules"));
    const pulumi = path.join(lab.bin(), "pulumi");
    const inEmpty = (args: string[]) =>
      spawnSync(pulumi, [...args, "--non-interactive"], { cwd: emptyDir, env: lab.env(), encoding: "utf8" });
    if (inEmpty(["stack", "init", "bench", "--secrets-provider", "passphrase"]).status !== 0)
      throw new Error("empty stack init failed");
    const sessionsBefore = lab.nodes.map((n) => n.sessions()).reduce((a, b) => a + b, 0);
    const labRuns: number[] = [];
    const emptyRuns: number[] = [];
    for (let i = 0; i < runs; i++) {
      labRuns.push(timed(() => lab.pulumi(["preview", "--expect-no-changes"]), "lab preview"));
      emptyRuns.push(timed(() => inEmpty(["preview", "--stack", "bench"]), "empty preview"));
      process.stderr.write(
        `  no-op preview: run ${i + 1}/${runs} lab ${labRuns[i].toFixed(1)} s, empty ${emptyRuns[i].toFixed(1)} s\n`,
      );
    }
    const sessions = lab.nodes.map((n) => n.sessions()).reduce((a, b) => a + b, 0) - sessionsBefore;
    timed(() => lab.destroy(), "destroy");
    return { lab: stat(labRuns), empty: stat(emptyRuns), sessions };
  } finally {
    lab.stop();
    fs.rmSync(lab.dir, { recursive: true, force: true });
  }
}

export async function labBenchmarks(runs: number): Promise<string> {
  const tc = spawnSync("bash", [path.join(__dirname, "..", "lab", "toolchain.sh"), "path"], { encoding: "utf8" });
  if (tc.status !== 0) {
    return "Not run: the lab toolchain is not built on this machine (`bash lab/toolchain.sh ensure`, or `npm run lab`, builds it).";
  }
  const prep = [];
  for (const [i, n] of [1, 8, 16].entries()) prep.push(await nodePrep(n, runs, 24200 + i * 1000));
  const preview = await noopPreview(runs, 27200);
  const one = prep[0].seconds.median;
  return [
    "Wall time of one `pulumi up` that re-prepares every node (each node's first PF changes its VF count, through 0), real engine, real SSH, FUSE-simulated sysfs; the Kubernetes objects are unchanged in these ups.",
    "",
    "| nodes | up s | × one node | SSH sessions per node per up |",
    "|---|---|---|---|",
    ...prep.map(
      (p) =>
        `| ${p.nodes} | ${fmt(p.seconds)} | ${(p.seconds.median / one).toFixed(2)} | ${p.sessionsPerNode.toFixed(2)} |`,
    ),
    "",
    "No-op preview of the lab stack (3 nodes, 40 resources) against an empty program's preview, same engine and backend:",
    "",
    "| preview | s |",
    "|---|---|",
    `| lab stack, no changes | ${fmt(preview.lab)} |`,
    `| empty program | ${fmt(preview.empty)} |`,
    `| ratio | ${(preview.lab.median / preview.empty.median).toFixed(2)} |`,
    "",
    `SSH sessions opened by ${runs} no-op previews: ${preview.sessions}.`,
  ].join("\n");
}
