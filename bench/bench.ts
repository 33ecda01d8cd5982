// npm run bench -- [--nodes 500 --pfs 2 --vfs 32 --pools 8 --networks 16 --vms 2000]
//                  [--runs 5] [--scales 50,500,2000] [--out BENCHMARKS.md] [--skip-lab]
// npm run bench -- --engine [--engine-scales 100,300] [--runs 3] [--engine-checkpoints skip|every] [--engine-port-base 31100] [--engine-profile DIR]   the real-engine fleet only
// npm run bench -- --preview [--runs 5]                            the no-op preview breakdown only
// Prints a table and writes BENCHMARKS.md. Every figure: median of --runs runs, with min and max.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parsePlatform } from "../config/validate";
import { planPlatform } from "../plan";
import { renderDevicePluginConfigMap } from "../render/devicePlugin";
import { renderNodeState } from "../render/nodePlan";
import { TEST_PRIVATE_KEY } from "../test/harness/program";
import type { ProgramRequest, ProgramSummary } from "../test/harness/runProgram";
import { DEFAULT_FLEET, FleetForm, FleetShape, generateFleet } from "./fleet";
import { ENV_STRING_MAX, engineConfigBytes, EngineRow, engineScale, engineTable } from "./engineBench";
import { labBenchmarks } from "./labBench";
import { previewBreakdown, previewTable } from "./previewBench";

const ROOT = path.join(__dirname, "..");

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

const fmt = (s: Stat, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

function args(): {
  shape: FleetShape;
  runs: number;
  scales: number[];
  out: string;
  skipLab: boolean;
  engine: boolean;
  engineScales: number[];
  enginePortBase: number;
  skipCheckpoints: boolean;
  engineProfile?: string;
  /** `--engine-platform-file`: the fleet in a platform file at every scale (past 128 KiB it always is). */
  platformFile: boolean;
  preview: boolean;
  memory: boolean;
} {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(`--${k}`);
    return i >= 0 ? a[i + 1] : undefined;
  };
  const num = (k: string, d: number) => {
    const v = get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
    return n;
  };
  return {
    shape: {
      nodes: num("nodes", DEFAULT_FLEET.nodes),
      pfsPerNode: num("pfs", DEFAULT_FLEET.pfsPerNode),
      vfsPerPf: num("vfs", DEFAULT_FLEET.vfsPerPf),
      pools: num("pools", DEFAULT_FLEET.pools),
      networks: num("networks", DEFAULT_FLEET.networks),
      vms: num("vms", DEFAULT_FLEET.vms),
    },
    runs: num("runs", 5),
    scales: (get("scales") ?? "50,500,2000").split(",").map(Number),
    out: get("out") ?? path.join(ROOT, "BENCHMARKS.md"),
    skipLab: a.includes("--skip-lab"),
    engine: a.includes("--engine"),
    engineScales: (get("engine-scales") ?? "100,300").split(",").map(Number),
    // Loopback ports of the engine bench's labs: clear of the e2e labs (22200-25100).
    enginePortBase: num("engine-port-base", 31100),
    skipCheckpoints: (get("engine-checkpoints") ?? "skip") !== "every",
    engineProfile: get("engine-profile"),
    platformFile: a.includes("--engine-platform-file"),
    preview: a.includes("--preview"),
    memory: a.includes("--memory"),
  };
}

function child(script: string, arg: string): ProgramSummary {
  // --expose-gc: the heap used after a forced GC at the end of registration (ProgramSummary.heapAfterGcMb).
  const out = execFileSync(
    process.execPath,
    [
      "--max-old-space-size=16384",
      "--expose-gc",
      "-r",
      "ts-node/register/transpile-only",
      path.join(ROOT, script),
      arg,
    ],
    {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const s = JSON.parse(out) as ProgramSummary & { error?: unknown };
  if ((s as { error?: unknown }).error) throw new Error(`benchmark program failed: ${JSON.stringify(s.error)}`);
  return s;
}

interface CostRow {
  label: string;
  resources: number;
  program: { wall: Stat; rss: Stat; heap: Stat };
  floor: { wall: Stat; rss: Stat; heap: Stat };
  pure: Stat;
}

function measure(label: string, shape: FleetShape, runs: number): CostRow {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-bench-"));
  try {
    const platform = generateFleet(shape);
    const req: ProgramRequest = {
      stack: "bench",
      platform,
      config: { sshPrivateKey: { value: TEST_PRIVATE_KEY, secret: true } },
      summary: true,
    };
    const file = path.join(dir, "req.json");
    fs.writeFileSync(file, JSON.stringify(req));
    const prog: ProgramSummary[] = [];
    const floor: ProgramSummary[] = [];
    const pure: number[] = [];
    for (let i = 0; i < runs; i++) {
      process.stderr.write(`  ${label}: run ${i + 1}/${runs} program… `);
      const p = child("test/harness/runProgram.ts", file);
      prog.push(p);
      process.stderr.write(`${p.resources} resources ${p.wallMs.toFixed(0)} ms; floor… `);
      const f = child("bench/floor.ts", String(p.resources));
      floor.push(f);
      process.stderr.write(`${f.wallMs.toFixed(0)} ms\n`);
      // The program's own logic alone, in this process: validate, plan, render.
      const t0 = process.hrtime.bigint();
      const model = parsePlatform(platform);
      planPlatform(model);
      renderDevicePluginConfigMap(model);
      for (const n of model.nodes) renderNodeState(n);
      pure.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return {
      label,
      resources: prog[0].resources,
      program: {
        wall: stat(prog.map((p) => p.wallMs)),
        rss: stat(prog.map((p) => p.maxRssMb)),
        heap: stat(prog.map((p) => p.heapAfterGcMb ?? NaN)),
      },
      floor: {
        wall: stat(floor.map((p) => p.wallMs)),
        rss: stat(floor.map((p) => p.maxRssMb)),
        heap: stat(floor.map((p) => p.heapAfterGcMb ?? NaN)),
      },
      pure: stat(pure),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface StateRow {
  label: string;
  form: FleetForm;
  nodes: number;
  resources: number;
  bytes: number;
}

/** One run of the program that adds up the size of the state (not timed: the adding costs time). */
function measureState(label: string, shape: FleetShape, form: FleetForm): StateRow {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-bench-state-"));
  try {
    process.stderr.write(`  ${label}, ${form}: state… `);
    const req: ProgramRequest = {
      stack: "bench",
      platform: generateFleet(shape, form),
      config: { sshPrivateKey: { value: TEST_PRIVATE_KEY, secret: true } },
      summary: true,
      stateBytes: true,
    };
    const file = path.join(dir, "req.json");
    fs.writeFileSync(file, JSON.stringify(req));
    const s = child("test/harness/runProgram.ts", file);
    process.stderr.write(`${((s.stateBytes ?? 0) / 2 ** 20).toFixed(1)} MB\n`);
    return { label, form, nodes: shape.nodes, resources: s.resources, bytes: s.stateBytes ?? 0 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const FORM_WORDS: Record<FleetForm, string> = {
  "per-node": "every node written out",
  profiles: "one profile, nodes by pattern",
  selectors: "one profile, PFs by NIC selector",
};

function stateTable(rows: StateRow[]): string {
  const head =
    "| fleet | nodes written as | resources | state MB | state KB per node | per node against the per-node form |\n|---|---|---|---|---|---|";
  const perNode = (r: StateRow) => r.bytes / r.nodes / 1024;
  const base = new Map(rows.filter((r) => r.form === "per-node").map((r) => [r.label, perNode(r)]));
  const lines = rows.map((r) => {
    const b = base.get(r.label);
    const delta =
      r.form === "per-node" || b === undefined
        ? "—"
        : `${perNode(r) - b >= 0 ? "+" : ""}${((perNode(r) - b) * 1024).toFixed(0)} bytes`;
    return `| ${r.label} | ${FORM_WORDS[r.form]} | ${r.resources} | ${(r.bytes / 2 ** 20).toFixed(1)} | ${perNode(r).toFixed(2)} | ${delta} |`;
  });
  return [head, ...lines].join("\n");
}

/** Memory at fleet scale: peak RSS and the GC-stable heap after a forced GC at the end of registration. */
function memoryTable(rows: CostRow[]): string {
  const head =
    "| fleet | resources | program peak RSS MB | floor peak RSS MB | peak RSS ratio | program heap after GC MB | floor heap after GC MB | heap ratio | program − floor heap, KB per resource |\n|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.label} | ${r.resources} | ${fmt(r.program.rss)} | ${fmt(r.floor.rss)} | ${(r.program.rss.median / r.floor.rss.median).toFixed(2)} | ${fmt(r.program.heap)} | ${fmt(r.floor.heap)} | ${(r.program.heap.median / r.floor.heap.median).toFixed(2)} | ${(((r.program.heap.median - r.floor.heap.median) * 1024) / r.resources).toFixed(1)} |`,
  );
  return [head, ...lines].join("\n");
}

function costTable(rows: CostRow[]): string {
  const head =
    "| fleet | resources | program ms | floor ms | time ratio | program peak RSS MB | floor peak RSS MB | memory ratio | program ms/resource | validate+plan+render ms |\n|---|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.label} | ${r.resources} | ${fmt(r.program.wall)} | ${fmt(r.floor.wall)} | ${(r.program.wall.median / r.floor.wall.median).toFixed(2)} | ${fmt(r.program.rss)} | ${fmt(r.floor.rss)} | ${(r.program.rss.median / r.floor.rss.median).toFixed(2)} | ${(r.program.wall.median / r.resources).toFixed(2)} | ${fmt(r.pure, 1)} |`,
  );
  return [head, ...lines].join("\n");
}

async function main(): Promise<void> {
  const o = args();
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
  const command = `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim();
  console.error(`machine: ${machine}`);
  if (o.memory) {
    const rows = o.scales.map((n) => measure(`${n} nodes, ${4 * n} VMs`, { ...o.shape, nodes: n, vms: 4 * n }, o.runs));
    const body = [
      `Machine: ${machine}. Command: \`${command}\`. Measured ${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0].toFixed(1)} at the end (the machine is shared).`,
      "",
      MEMORY_INTRO,
      "",
      memoryTable(rows),
    ].join("\n");
    const previous = fs.existsSync(o.out) ? fs.readFileSync(o.out, "utf8") : "# Benchmarks\n";
    fs.writeFileSync(o.out, replaceSection(previous, MEMORY_SECTION, body));
    console.log(body);
    return;
  }
  if (o.preview) {
    const b = await previewBreakdown(o.runs, 30050);
    const body = [
      `Machine: ${machine}. Command: \`${command}\`. Measured ${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0].toFixed(1)} at the end (the machine is shared).`,
      "",
      PREVIEW_INTRO,
      "",
      previewTable(b, o.runs),
    ].join("\n");
    const previous = fs.existsSync(o.out) ? fs.readFileSync(o.out, "utf8") : "# Benchmarks\n";
    fs.writeFileSync(o.out, replaceSection(previous, PREVIEW_SECTION, body));
    console.log(body);
    return;
  }
  if (o.engine) {
    // Only the real-engine section is regenerated; every other section of the file stays.
    const rows: EngineRow[] = [];
    const settings = {
      skipCheckpoints: o.skipCheckpoints,
      profileDir: o.engineProfile && path.resolve(o.engineProfile),
      platformFile: o.platformFile,
    };
    const viaFile: string[] = [];
    for (const [i, n] of o.engineScales.entries()) {
      const bytes = engineConfigBytes(n);
      if (o.platformFile || bytes > ENV_STRING_MAX) {
        viaFile.push(
          `**${n} nodes: the fleet is in a platform file** (\`kubevirt-sriov:platformFile\`): as stack config it would take ${bytes.toLocaleString("en")} bytes of \`PULUMI_CONFIG\`${bytes > ENV_STRING_MAX ? `, over the ${ENV_STRING_MAX.toLocaleString("en")} bytes Linux allows one environment string, and the program would never start ("argument list too long", pulumi/pulumi#8680)` : ""}.`,
        );
      }
      rows.push(await engineScale(n, o.runs, o.enginePortBase + i * 1000, settings));
      // Every sample, for a table composed by hand from several invocations.
      fs.writeFileSync(
        `${o.out}.engine.json`,
        JSON.stringify({ command, settings, loadavg: os.loadavg(), rows }, null, 1),
      );
    }
    const body = [
      `Machine: ${machine}. Command: \`${command}\`. Measured ${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0].toFixed(1)} at the end (the machine is shared).`,
      "",
      ENGINE_INTRO,
      "",
      engineTable(rows, o.runs, settings),
      ...viaFile.flatMap((c) => ["", c]),
    ].join("\n");
    const previous = fs.existsSync(o.out) ? fs.readFileSync(o.out, "utf8") : "# Benchmarks\n";
    fs.writeFileSync(o.out, replaceSection(previous, ENGINE_SECTION, body));
    console.log(body);
    return;
  }

  const main = measure(
    `${o.shape.nodes} nodes × ${o.shape.pfsPerNode} PFs × ${o.shape.vfsPerPf} VFs, ${o.shape.pools} pools, ${o.shape.networks} networks, ${o.shape.vms} VMs`,
    o.shape,
    o.runs,
  );
  const scaling = o.scales.map((n) =>
    measure(`${n} nodes, ${4 * n} VMs`, { ...o.shape, nodes: n, vms: 4 * n }, o.runs),
  );
  const states: StateRow[] = [];
  for (const n of o.scales) {
    const shape = { ...o.shape, nodes: n, vms: 4 * n };
    for (const form of ["per-node", "profiles"] as const)
      states.push(measureState(`${n} nodes, ${4 * n} VMs`, shape, form));
    if (n === o.shape.nodes) states.push(measureState(`${n} nodes, ${4 * n} VMs`, shape, "selectors"));
  }
  const previous = fs.existsSync(o.out) ? fs.readFileSync(o.out, "utf8") : "";
  // Without the lab (it may be busy), the last lab figures stay, rather than a "skipped".
  const lab = o.skipLab ? (sectionBody(previous, LAB_SECTION) ?? "skipped (--skip-lab)") : await labBenchmarks(o.runs);

  const doc = [
    "# Benchmarks",
    "",
    `Machine: ${machine}.`,
    `Command: \`${command}\` (${o.runs} runs each; every figure is median (min–max)).`,
    "",
    "## Program cost against the SDK floor",
    "",
    "The full program (`index.ts`) under the same Pulumi mocks the tests use, against a floor program that registers the same number of resources with trivial inputs through the same SDK and mocks. Wall time from the program's start to the last registration; peak RSS of the process. Target: ratio ≤ 1.3 for time and memory. The fleets are written with one node profile and nodes listed by pattern (`bench/fleet.ts`), as a platform team writes a fleet.",
    "",
    costTable([main]),
    "",
    "## Scaling (VMs = 4 × nodes)",
    "",
    costTable(scaling),
    "",
    "## State per node: fleets written with profiles",
    "",
    "The same fleets written three ways, each run once under the same mocks with the state's size added up: JSON of every resource's inputs and outputs plus the stack outputs (component outputs, which the mocks do not see, are not counted). The fleets above are written with a profile (`bench/fleet.ts`); a profile must not make a node's state larger than writing the node out does.",
    "",
    stateTable(states),
    "",
    `## ${LAB_SECTION}`,
    "",
    lab,
    "",
  ].join("\n");
  fs.writeFileSync(o.out, withHandWrittenSections(doc, previous));
  console.log(doc);
}

const LAB_SECTION = "Node preparation and no-op preview (the lab)";
export const MEMORY_SECTION = "Memory at fleet scale (`--memory`)";
const MEMORY_INTRO =
  "The program and the SDK floor as above (same mocks, same fleets), run with `--expose-gc`: peak RSS, and the V8 heap used after a forced full GC at the end of registration, which does not depend on when the collector happened to run. Target: peak RSS ≤ 1.3 × the floor at 2,000 nodes.";
export const PREVIEW_SECTION = "No-op preview: where the time goes (`--preview`)";
const PREVIEW_INTRO =
  "The lab stack (3 simulated nodes, 40 resources) previewed with no changes, against programs that isolate each part, on the same engine, language host and backend. Target: ≤ 1.5 × the empty program, as the issue measured it: an empty TypeScript program (the JavaScript one is the stricter floor, beside it).";
export const ENGINE_SECTION = "Real engine: a fleet through the lab (`--engine`)";
const ENGINE_INTRO = [
  "The program on a synthetic fleet (2 PFs × 8 VFs per node, 2 pools, 4 networks, 4 VMs per node, `bench/engineBench.ts`) through the lab's real engine: Pulumi CLI 3.248.0, the lab's Node.js language host, the Kubernetes provider 4.25.0 and Command provider, a real kube-apiserver 1.37 and etcd on loopback, a file backend. The engine floor is a program registering as many ConfigMaps of the program's mean input size through the same engine, language host and Kubernetes provider, in plain JavaScript, so neither pays a compiler on the run (the program runs its build in `bin/`, see the README's Per environment). Target: ≤ 1.5 × the floor for every operation; a no-op `up` opens no SSH session.",
  "",
  "What is simulated: node 1 is a lab node (FUSE sysfs enforcing the kernel's SR-IOV rules, its own sshd, the real node script). Every other node is a stub node behind one shared sshd (`bench/stub-node.sh`): a real SSH session per command, the exact command the program sends (script and state unpacked with base64, gzip and mktemp), each node's own `/etc/kubevirt-sriov` with the script copy the revert needs; the node script itself is not run there and the report is the one the real script printed for node 1's layout. The one-node change gives node 1's first PF 2 more VFs (the real script runs).",
].join("\n");

/** The document with the body of `## <title>` replaced, or the section added at the end. */
export function replaceSection(doc: string, title: string, body: string): string {
  const parts = doc.split(/^(?=## )/m);
  const i = parts.findIndex((sec) => sec.split("\n", 1)[0].trim() === `## ${title}`);
  const section = `## ${title}\n\n${body.trim()}\n`;
  if (i < 0) return `${doc.replace(/\n*$/, "\n\n")}${section}`;
  parts[i] = `${section}${i < parts.length - 1 ? "\n" : ""}`;
  return parts.join("");
}

/** The text of a `## <title>` section of a Markdown document, without its heading. */
export function sectionBody(doc: string, title: string): string | undefined {
  const section = doc.split(/^(?=## )/m).find((sec) => sec.split("\n", 1)[0].trim() === `## ${title}`);
  return section?.slice(section.indexOf("\n") + 1).trim();
}

/**
 * The generated document followed by every section of the previous file that this command does
 * not generate (analyses written after a run, the real-kernel figures of lab/guest/bench.ts), so
 * a re-run never loses them.
 */
export function withHandWrittenSections(generated: string, previous: string): string {
  const sections = (text: string) => text.split(/^(?=## )/m).slice(1);
  const title = (section: string) => section.split("\n", 1)[0].trim();
  const own = new Set(sections(generated).map(title));
  const kept = sections(previous).filter((sec) => !own.has(title(sec)));
  if (kept.length === 0) return generated;
  return `${generated.replace(/\n*$/, "\n\n")}${kept.map((sec) => sec.replace(/\n*$/, "\n")).join("\n")}`;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
