// The real-engine fleet benchmark (`npm run bench -- --engine`): a synthetic stack of N nodes and
// 4 VMs per node through the lab's Pulumi CLI, language host, Kubernetes and Command providers and
// a real kube-apiserver, against an engine floor: a program that registers as many ConfigMaps of
// the same mean size through the same engine and Kubernetes provider. Per operation: wall time,
// peak RSS of the engine and of the language host, API-server requests, SSH sessions.
//
// Nodes: node 1 is a lab node (FUSE-simulated sysfs, its own sshd, the real node script); every
// other node is a stub node behind one shared sshd (bench/stub-node.sh): real SSH sessions, the
// exact command the program sends, each node's own /etc, but no sysfs and no node script run.
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { CONFIG_ENV_LIMIT, PLATFORM_FILE_ROOT, pulumiConfigEnvBytes } from "../config/platformFile";
import { CONFIG_ROOT } from "../config/schema";
import { parsePlatform } from "../config/validate";
import { Lab, REPO } from "../lab/lab";
import { labHardware } from "../lab/nodes";
import { canConnect, logFile, startDaemon, stopDaemon, waitFor } from "../lab/processes";
import { renderNodeState } from "../render/nodePlan";
import { renderStateLines } from "../render/nodeState";
import { SimHost } from "../test/sim/host";
import { generateFleet } from "./fleet";
import { fmt, Stat, stat } from "./stats";

export const ENGINE_OPS = ["preview", "up", "no-op up", "one-node change", "destroy"] as const;
export type EngineOp = (typeof ENGINE_OPS)[number];

/** One operation, measured. */
export interface OpSample {
  seconds: number;
  engineMb: number;
  langhostMb: number;
  providersMb: number;
  apiRequests: number;
  sshSessions: number;
  /** CPU seconds (user + system) by process: the engine, the language host, each provider. */
  cpuSeconds: CpuSeconds;
}

export interface CpuSeconds {
  engine: number;
  langhost: number;
  kubernetes: number;
  command: number;
}

export interface EngineRow {
  nodes: number;
  resources: number;
  floorObjects: number;
  floorBytes: number;
  program: Record<EngineOp, OpSample[]>;
  floor: Record<EngineOp, OpSample[]>;
}

const PROGRAM_PROJECT = "kubevirt-sriov";

/** Peak RSS (VmHWM) of a process tree, polled until the root exits: by process name. */
class TreeWatcher {
  private readonly peak = new Map<number, { name: string; kb: number }>();
  /** Last seen utime + stime, in clock ticks, by pid. */
  private readonly ticks = new Map<number, { name: string; ticks: number }>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly root: number) {}

  start(): void {
    this.poll();
    this.timer = setInterval(() => this.poll(), 200);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private poll(): void {
    const parent = new Map<number, number>();
    for (const e of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const s = fs.readFileSync(`/proc/${e}/stat`, "utf8");
        parent.set(Number(e), Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]));
      } catch {
        // gone
      }
    }
    const inTree = (pid: number): boolean => {
      for (let p = pid, i = 0; p > 1 && i < 64; p = parent.get(p) ?? 0, i++) if (p === this.root) return true;
      return false;
    };
    for (const pid of parent.keys()) {
      if (!inTree(pid)) continue;
      try {
        const st = fs.readFileSync(`/proc/${pid}/status`, "utf8");
        // Names in status are cut at 15 characters (both providers are "pulumi-resource"): argv[0]'s base name.
        const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
        const name = argv0 ? path.basename(argv0) : (/^Name:\s*(\S+)/m.exec(st)?.[1] ?? "?");
        const kb = Number(/^VmHWM:\s*(\d+)/m.exec(st)?.[1] ?? 0);
        const prev = this.peak.get(pid);
        if (!prev || kb > prev.kb) this.peak.set(pid, { name, kb });
        const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
        this.ticks.set(pid, { name, ticks: Number(rest[11]) + Number(rest[12]) });
      } catch {
        // gone
      }
    }
  }

  /** CPU seconds by process (as last polled: a process that lived under 200 ms is missed). */
  cpu(): CpuSeconds {
    const sum = (pred: (n: string) => boolean) =>
      [...this.ticks.values()].filter((t) => pred(t.name)).reduce((a, t) => a + t.ticks / 100, 0);
    return {
      engine: (this.ticks.get(this.root)?.ticks ?? 0) / 100,
      langhost: sum((n) => n.startsWith("pulumi-language") || n === "node"),
      kubernetes: sum((n) => n.startsWith("pulumi-resource-kubernetes")),
      command: sum((n) => n.startsWith("pulumi-resource-command")),
    };
  }

  /** Peak MB of the engine (the CLI), the language host (its Go host and the program's node) and the providers. */
  result(): { engineMb: number; langhostMb: number; providersMb: number } {
    const mb = (pred: (n: string, pid: number) => boolean, combine: (a: number, b: number) => number) =>
      [...this.peak].filter(([pid, p]) => pred(p.name, pid)).reduce((a, [, p]) => combine(a, p.kb / 1024), 0);
    return {
      engineMb: this.peak.get(this.root)?.kb ? (this.peak.get(this.root)?.kb ?? 0) / 1024 : 0,
      // The Go host pulumi-language-nodejs; the program runs in node.
      langhostMb:
        mb(
          (n) => n.startsWith("pulumi-language"),
          (a, b) => a + b,
        ) + mb((n) => n === "node", Math.max),
      providersMb: mb(
        (n) => n.startsWith("pulumi-resource"),
        (a, b) => a + b,
      ),
    };
  }
}

/** Sum of apiserver_request_total over every label set. */
async function apiRequests(lab: Lab): Promise<number> {
  const r = await lab.controlPlane.request("GET", "/metrics");
  let total = 0;
  for (const line of String(r.body).split("\n")) {
    const m = /^apiserver_request_total\{.*\} (\S+)$/.exec(line);
    if (m) total += Number(m[1]);
  }
  return total;
}

/** The shared sshd of the stub nodes (bench/stub-node.sh as ForceCommand). */
async function startStubSshd(
  lab: Lab,
  port: number,
): Promise<{ dir: string; hostKey: string; sessions: () => number }> {
  const dir = path.join(lab.dir, "stub");
  fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
  fs.mkdirSync(path.join(dir, "nodes"), { recursive: true });
  const stub = path.join(REPO, "bench", "stub-node.sh");
  if (!fs.existsSync(path.join(dir, "bin", "bash"))) fs.symlinkSync(stub, path.join(dir, "bin", "bash"));
  const key = path.join(dir, "ssh_host_ed25519_key");
  if (!fs.existsSync(key)) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  const conf = path.join(dir, "sshd_config");
  fs.writeFileSync(
    conf,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${key}`,
      `AuthorizedKeysFile ${path.join(lab.dir, "ssh", "id_ed25519.pub")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      `PidFile ${path.join(dir, "sshd.pid")}`,
      "LogLevel VERBOSE",
      "MaxStartups 400:30:600",
      `SetEnv STUB_DIR=${dir}`,
      `ForceCommand ${stub} session`,
      "",
    ].join("\n"),
  );
  fs.mkdirSync("/run/sshd", { recursive: true });
  startDaemon(lab.dir, "sshd-stub", fs.existsSync("/usr/sbin/sshd") ? "/usr/sbin/sshd" : "sshd", [
    "-D",
    "-e",
    "-f",
    conf,
  ]);
  await waitFor(`stub sshd on 127.0.0.1:${port}`, () => canConnect(port), 15_000);
  const hostKey = fs.readFileSync(`${key}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  const sessions = () => {
    const log = logFile(lab.dir, "sshd-stub");
    return fs.existsSync(log)
      ? fs
          .readFileSync(log, "utf8")
          .split("\n")
          .filter((l) => /Accepted publickey for /.test(l)).length
      : 0;
  };
  return { dir, hostKey, sessions };
}

/** The fleet: node 1 the lab node, the others stub nodes; 2 PFs × 8 VFs, 2 pools, 4 networks, 4 VMs per node. */
export function engineFleet(
  nodes: number,
  real: { port: number; hostKey: string },
  stub: { port: number; hostKey: string },
): Record<string, any> {
  // A deep copy (structuredClone would keep the sharing): the generated nodes share one layout object, and the one-node change edits node 1's.
  const p = JSON.parse(
    JSON.stringify(
      generateFleet({ nodes, pfsPerNode: 2, vfsPerPf: 8, pools: 2, networks: 4, vms: 4 * nodes }, "per-node"),
    ),
  ) as Record<string, any>;
  p.nodes = (p.nodes as Record<string, any>[]).map((n, i) => ({
    ...n,
    name: i === 0 ? "lab-node-1" : `node-${i}`,
    ssh: { host: "127.0.0.1", ...(i === 0 ? real : stub) },
    physicalFunctions: (n.physicalFunctions as Record<string, any>[]).map((pf, j) => ({ ...pf, name: `ens1f${j}` })),
  }));
  p.kubevirt.operatorManifest.file = path.join(REPO, p.kubevirt.operatorManifest.file);
  // The program does not make the workloads' namespace (the cluster owns it): the lab's default.
  for (const x of [...p.networks, ...p.vms] as { namespace: string }[]) x.namespace = "default";
  return p;
}

/**
 * Linux's limit on one environment string (MAX_ARG_STRLEN). The Node.js language host hands the
 * program its whole stack configuration in one, PULUMI_CONFIG: past this the program never starts
 * ("fork/exec node: argument list too long", pulumi/pulumi#8680), so a larger fleet is written to
 * a platform file the stack names (`kubevirt-sriov:platformFile`).
 */
export const ENV_STRING_MAX = CONFIG_ENV_LIMIT;

/** Bytes of the PULUMI_CONFIG string the language host would pass for this fleet (host keys as long as the lab's ed25519 keys; other config keys not counted). */
export function engineConfigBytes(nodes: number): number {
  const key = `ssh-ed25519 ${"A".repeat(68)}`;
  const p = engineFleet(nodes, { port: 31101, hostKey: key }, { port: 31160, hostKey: key });
  return pulumiConfigEnvBytes({ [CONFIG_ROOT]: p });
}

/** The one-node change: node 1's first PF gets 2 VFs more (its second pool's range grows with it). */
function oneNodeChange(p: Record<string, any>): void {
  const pf = p.nodes[0].physicalFunctions[0];
  pf.numVfs += 2;
  const last = pf.ranges[pf.ranges.length - 1];
  last.vfs = `${last.vfs.split("-")[0]}-${pf.numVfs - 1}`;
}

/** What the real node script reports for node 1's layout on a FUSE-simulated node: the stub nodes' answer. */
async function stubReport(platform: Record<string, any>, file: string): Promise<void> {
  const model = parsePlatform(platform);
  const state = { ...renderNodeState(model.nodes[0]), owner: `${PROGRAM_PROJECT}/lab/lab-node-1` };
  const dir = path.join(path.dirname(file), "report-host", "lab-node-1");
  fs.mkdirSync(dir, { recursive: true });
  const host = await SimHost.start(labHardware(0), { dir });
  try {
    const r = host.run(["apply"], renderStateLines(state));
    if (r.status !== 0) throw new Error(`stub report: apply failed: ${r.stderr}`);
    fs.writeFileSync(file, r.stdout);
  } finally {
    await host.stop();
  }
}

// Plain JavaScript, run as the program is (main.js runs its build in bin/): nothing is compiled on
// the run, so neither pays a compiler and the floor is no slower for being written in TypeScript.
const FLOOR_PROGRAM = `"use strict";
const k8s = require("@pulumi/kubernetes");
const pulumi = require("@pulumi/pulumi");
const cfg = new pulumi.Config();
const count = cfg.requireNumber("count");
const pad = "x".repeat(cfg.requireNumber("bytes"));
const changed = cfg.getNumber("changed") ?? -1;
const ns = new k8s.core.v1.Namespace("floor", { metadata: { name: "engine-floor" } });
for (let i = 0; i < count - 1; i++) {
  new k8s.core.v1.ConfigMap(\`cm-\${i}\`, { metadata: { namespace: "engine-floor" }, data: { pad, v: i === changed ? "changed" : "v" } }, { dependsOn: ns });
}
`;

function floorProject(lab: Lab): string {
  const dir = path.join(lab.dir, "engine-floor");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    yaml.dump({ name: "kvsfloor", main: "index.js", runtime: { name: "nodejs", options: { typescript: false } } }),
  );
  fs.writeFileSync(path.join(dir, "index.js"), FLOOR_PROGRAM);
  if (!fs.existsSync(path.join(dir, "node_modules")))
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

interface Runner {
  cwd: string;
  stack: string;
}

/**
 * How the engine runs, the same for the program and the floor. `skipCheckpoints`:
 * PULUMI_SKIP_CHECKPOINTS=true, the file backend writes the state once at the end of an operation
 * instead of after every step (it rewrites the whole checkpoint each time: quadratic in resources).
 */
export interface EngineSettings {
  skipCheckpoints: boolean;
  /** Hand the program its fleet in a platform file even when it would fit in the stack config. */
  platformFile?: boolean;
  /** Profiles of every operation here: the engine's (`pulumi --profiling`: CPU, heap, execution trace) and the program's node (`--cpu-prof`). */
  profileDir?: string;
}

export function engineSettingsText(s: EngineSettings): string {
  const parallel = `the engine's default parallelism (\`--parallel\` ${4 * os.cpus().length}: 4 × the cores)`;
  return s.skipCheckpoints
    ? `\`PULUMI_SKIP_CHECKPOINTS=true\` (the file backend saves the state once, at the end of each operation), ${parallel}`
    : `checkpoints after every step (Pulumi's default), ${parallel}`;
}

const CPU_PROF_PRELOAD = `const inspector = require("inspector");
const fs = require("fs");
const path = require("path");
const dir = process.env.KVS_CPU_PROF_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post("Profiler.enable", () => session.post("Profiler.start"));
  process.on("exit", () => session.post("Profiler.stop", (err, r) => {
    if (!err) fs.writeFileSync(path.join(dir, process.pid + ".cpuprofile"), JSON.stringify(r.profile));
  }));
}
`;

function engineEnv(lab: Lab, s: EngineSettings, tag: string): NodeJS.ProcessEnv {
  const env = lab.env();
  if (s.profileDir) {
    // Node 20 refuses --cpu-prof in NODE_OPTIONS: a preloaded inspector session writes the profile at exit.
    const dir = path.join(s.profileDir, `${tag}-node`);
    fs.mkdirSync(dir, { recursive: true });
    const preload = path.join(s.profileDir, "cpu-prof.js");
    fs.writeFileSync(preload, CPU_PROF_PRELOAD);
    env.NODE_OPTIONS = `--require ${preload}`;
    env.KVS_CPU_PROF_DIR = dir;
  }
  if (s.skipCheckpoints) env.PULUMI_SKIP_CHECKPOINTS = "true";
  else delete env.PULUMI_SKIP_CHECKPOINTS;
  return env;
}

async function runOp(
  lab: Lab,
  r: Runner,
  args: string[],
  sessions: () => number,
  settings: EngineSettings,
  tag: string,
): Promise<OpSample> {
  const before = { api: await apiRequests(lab), ssh: sessions() };
  const t0 = process.hrtime.bigint();
  const profiling = settings.profileDir ? ["--profiling", path.join(settings.profileDir, `${tag}-engine`)] : [];
  if (settings.profileDir) fs.mkdirSync(settings.profileDir, { recursive: true });
  const child = spawn(
    path.join(lab.bin(), "pulumi"),
    [...args, ...profiling, "--stack", r.stack, "--non-interactive"],
    { cwd: r.cwd, env: engineEnv(lab, settings, tag), stdio: ["ignore", "pipe", "pipe"] },
  );
  const w = new TreeWatcher(child.pid as number);
  w.start();
  const chunks: string[] = [];
  child.stdout.on("data", (d) => chunks.push(String(d)));
  child.stderr.on("data", (d) => chunks.push(String(d)));
  const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? -1)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  w.stop();
  if (code !== 0) {
    const out = chunks.join("");
    const log = path.join(os.tmpdir(), `kvs-engine-failed-${Date.now()}.log`);
    fs.writeFileSync(log, out);
    const errors = out
      .split("\n")
      .filter((l) => /error/i.test(l))
      .slice(0, 30)
      .join("\n");
    throw new Error(`pulumi ${args.join(" ")} (${r.cwd}) exited ${code} (whole output: ${log}):\n${errors}`);
  }
  return {
    seconds,
    ...w.result(),
    cpuSeconds: w.cpu(),
    apiRequests: (await apiRequests(lab)) - before.api,
    sshSessions: sessions() - before.ssh,
  };
}

function emptyOps(): Record<EngineOp, OpSample[]> {
  return { preview: [], up: [], "no-op up": [], "one-node change": [], destroy: [] };
}

async function sequence(
  lab: Lab,
  r: Runner,
  into: Record<EngineOp, OpSample[]>,
  change: () => void,
  sessions: () => number,
  label: string,
  settings: EngineSettings,
): Promise<void> {
  const log = (op: EngineOp, s: OpSample) =>
    process.stderr.write(
      `  ${label} ${op}: ${s.seconds.toFixed(1)} s, engine ${s.engineMb.toFixed(0)} MB, language host ${s.langhostMb.toFixed(0)} MB, ${s.apiRequests} API requests, ${s.sshSessions} SSH sessions; CPU s: engine ${s.cpuSeconds.engine.toFixed(1)}, language host ${s.cpuSeconds.langhost.toFixed(1)}, kubernetes ${s.cpuSeconds.kubernetes.toFixed(1)}, command ${s.cpuSeconds.command.toFixed(1)}\n`,
    );
  const step = async (op: EngineOp, args: string[]) => {
    const s = await runOp(
      lab,
      r,
      args,
      sessions,
      settings,
      `${label.replace(/[^a-z0-9]+/gi, "-")}-${op.replace(/ /g, "-")}`,
    );
    into[op].push(s);
    log(op, s);
  };
  await step("preview", ["preview"]);
  await step("up", ["up", "--yes", "--skip-preview"]);
  await step("no-op up", ["up", "--yes", "--skip-preview", "--expect-no-changes"]);
  change();
  await step("one-node change", ["up", "--yes", "--skip-preview"]);
  await step("destroy", ["destroy", "--yes", "--skip-preview"]);
}

/** Resources the engine holds for the program (not the stack, not providers), and their mean input size. */
function stackShape(lab: Lab): { resources: number; custom: number; meanBytes: number } {
  const r = lab.pulumi(["stack", "export"], { capture: true });
  if (r.status !== 0) throw new Error(`stack export failed: ${r.stderr}`);
  const res = (JSON.parse(r.stdout).deployment.resources ?? []) as {
    type: string;
    custom?: boolean;
    inputs?: unknown;
  }[];
  const ours = res.filter((x) => x.type !== "pulumi:pulumi:Stack" && !x.type.startsWith("pulumi:providers:"));
  const custom = ours.filter((x) => x.custom);
  const bytes = custom.reduce((a, x) => a + JSON.stringify(x.inputs ?? {}).length, 0);
  return { resources: ours.length, custom: custom.length, meanBytes: Math.round(bytes / Math.max(1, custom.length)) };
}

export async function engineScale(
  nodes: number,
  runs: number,
  portBase: number,
  settings: EngineSettings,
): Promise<EngineRow> {
  const lab = new Lab({
    dir: fs.mkdtempSync(path.join(os.tmpdir(), `kvs-engine-${nodes}-`)),
    portBase,
    quiet: true,
    nodeCount: 1,
  });
  try {
    await lab.start();
    const stub = await startStubSshd(lab, portBase + 60);
    const real = lab.nodes[0];
    const fleet = () =>
      engineFleet(
        nodes,
        { port: real.spec.sshPort, hostKey: real.hostKey() },
        { port: portBase + 60, hostKey: stub.hostKey },
      );
    await stubReport(fleet(), path.join(stub.dir, "report.json"));
    for (const n of fleet().nodes as { name: string }[]) await lab.controlPlane.ensureNode(n.name);
    // A fleet over the limit (or any, when asked) goes in a platform file, as a user's would.
    const viaFile = settings.platformFile === true || engineConfigBytes(nodes) > CONFIG_ENV_LIMIT;
    const setPlatform = (edit?: (p: Record<string, any>) => void) => {
      const f = fleet();
      edit?.(f);
      if (!viaFile) {
        lab.editPlatform((p) => {
          for (const k of Object.keys(p)) delete p[k];
          Object.assign(p, f);
        });
        return;
      }
      const file = path.join(lab.projectDir, "fleet.yaml");
      fs.writeFileSync(file, yaml.dump(f, { lineWidth: 200 }));
      const doc = yaml.load(fs.readFileSync(lab.configFile, "utf8")) as { config: Record<string, unknown> };
      delete doc.config[CONFIG_ROOT];
      doc.config[PLATFORM_FILE_ROOT] = file;
      fs.writeFileSync(lab.configFile, yaml.dump(doc, { lineWidth: 200 }));
    };
    const sessions = () => real.sessions() + stub.sessions();
    const floorDir = floorProject(lab);
    const floorRunner: Runner = { cwd: floorDir, stack: "floor" };
    const floorCli = (args: string[]) => {
      const r = spawnPulumi(lab, floorDir, args);
      if (r.status !== 0) throw new Error(`floor: pulumi ${args.join(" ")} failed: ${r.stderr}`);
    };
    floorCli(["stack", "init", "floor", "--secrets-provider", "passphrase"]);
    const row: EngineRow = {
      nodes,
      resources: 0,
      floorObjects: 0,
      floorBytes: 0,
      program: emptyOps(),
      floor: emptyOps(),
    };
    for (let i = 0; i < runs; i++) {
      setPlatform();
      const label = `${nodes} nodes, run ${i + 1}/${runs}, program`;
      // The floor is sized after the program's first up (its state), before the program's destroy.
      const prog = row.program;
      await sequence(
        lab,
        { cwd: lab.projectDir, stack: "lab" },
        prog,
        () => {
          if (row.resources === 0) {
            const shape = stackShape(lab);
            row.resources = shape.resources;
            row.floorObjects = shape.custom;
            row.floorBytes = shape.meanBytes;
          }
          setPlatform(oneNodeChange);
        },
        sessions,
        label,
        settings,
      );
      floorCli(["config", "set", "count", String(row.floorObjects), "--stack", "floor"]);
      floorCli(["config", "set", "bytes", String(Math.max(0, row.floorBytes - 120)), "--stack", "floor"]);
      spawnPulumi(lab, floorDir, ["config", "rm", "changed", "--stack", "floor"]); // absent on the first run
      await sequence(
        lab,
        floorRunner,
        row.floor,
        () => floorCli(["config", "set", "changed", "0", "--stack", "floor"]),
        sessions,
        `${nodes} nodes, run ${i + 1}/${runs}, floor`,
        settings,
      );
    }
    return row;
  } finally {
    stopDaemon(lab.dir, "sshd-stub", 5_000);
    await lab.stop();
    fs.rmSync(lab.dir, { recursive: true, force: true });
  }
}

function spawnPulumi(lab: Lab, cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(path.join(lab.bin(), "pulumi"), [...args, "--non-interactive"], {
    cwd,
    env: lab.env(),
    encoding: "utf8",
  });
}

/** The section body: one table per scale, then what is simulated. */
export function engineTable(rows: EngineRow[], runs: number, settings: EngineSettings): string {
  const out: string[] = [
    `Engine settings, the same for the program and the floor: ${engineSettingsText(settings)}.`,
    "",
  ];
  const med = (xs: OpSample[], k: Exclude<keyof OpSample, "cpuSeconds">): Stat => stat(xs.map((x) => x[k]));
  const cpu = (xs: OpSample[], k: keyof CpuSeconds): string => stat(xs.map((x) => x.cpuSeconds[k])).median.toFixed(1);
  for (const r of rows) {
    out.push(
      `**${r.nodes} nodes, ${4 * r.nodes} VMs**: ${r.resources} resources in the program's state (${r.floorObjects} of them custom: Kubernetes objects and commands, mean ${r.floorBytes} bytes of inputs); the floor registers ${r.floorObjects} ConfigMaps of that size through the same engine and Kubernetes provider.`,
      "",
    );
    out.push(
      "| operation | program s | floor s | time ratio | engine peak RSS MB (program / floor) | language host peak RSS MB (program / floor) | API requests (program / floor) | SSH sessions |",
    );
    out.push("|---|---|---|---|---|---|---|---|");
    for (const op of ENGINE_OPS) {
      const p = r.program[op];
      const f = r.floor[op];
      if (p.length === 0) continue;
      const ratio = med(p, "seconds").median / med(f, "seconds").median;
      out.push(
        `| ${op} | ${fmt(med(p, "seconds"), 1)} | ${fmt(med(f, "seconds"), 1)} | ${ratio.toFixed(2)} | ${med(p, "engineMb").median.toFixed(0)} / ${med(f, "engineMb").median.toFixed(0)} | ${med(p, "langhostMb").median.toFixed(0)} / ${med(f, "langhostMb").median.toFixed(0)} | ${med(p, "apiRequests").median.toFixed(0)} / ${med(f, "apiRequests").median.toFixed(0)} | ${med(p, "sshSessions").median.toFixed(0)} |`,
      );
    }
    out.push("");
    out.push("Where the time goes: CPU seconds by process (median, program / floor).", "");
    out.push("| operation | engine | language host | Kubernetes provider | Command provider (program) |");
    out.push("|---|---|---|---|---|");
    for (const op of ENGINE_OPS) {
      const p = r.program[op];
      const f = r.floor[op];
      if (p.length === 0) continue;
      out.push(
        `| ${op} | ${cpu(p, "engine")} / ${cpu(f, "engine")} | ${cpu(p, "langhost")} / ${cpu(f, "langhost")} | ${cpu(p, "kubernetes")} / ${cpu(f, "kubernetes")} | ${cpu(p, "command")} |`,
      );
    }
    out.push("");
  }
  out.push(
    `Median (min–max) of ${runs} run(s); each run is the five operations in order on a fresh stack, then the floor's five. Peak RSS: VmHWM polled every 200 ms over the CLI's process tree (the engine is the \`pulumi\` process; the language host is the Go host plus the program's \`node\`). API requests: \`apiserver_request_total\` before and after (the lab's kube-controller-manager's own requests in that window included). SSH sessions: accepted by the nodes' sshds.`,
  );
  return out.join("\n");
}
