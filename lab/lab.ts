// The local lab: the whole program, for real, on one machine — the Pulumi engine and its
// providers, a real kube-apiserver, real SSH to simulated SR-IOV nodes.
//   npm run lab                 set up, start, pulumi up, show outputs and the report
//   npm run lab:down            pulumi destroy, stop every lab process
//   npm run lab -- status|start|stop|pulumi <args...>
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { ControlPlane } from "./controlPlane";
import { labHardware, LabNode } from "./nodes";

export const REPO = path.join(__dirname, "..");
export const STACK = "lab";
const DEFAULT_NODE_COUNT = 3;

function step(msg: string): void {
  process.stderr.write(`\n==> ${msg}\n`);
}

export interface LabOptions {
  /** Lab directory (default: <repo>/.lab, or $KUBEVIRT_SRIOV_LAB_DIR). */
  dir?: string;
  /** First of the lab's loopback ports (default 22200, or $KUBEVIRT_SRIOV_LAB_PORT_BASE). */
  portBase?: number;
  /** Where pulumi's output goes: the terminal, or captured (tests). */
  quiet?: boolean;
  /** Simulated nodes (default 3, or $KUBEVIRT_SRIOV_LAB_NODES); past the stack file's three,
   *  nodes are copies of its last one. */
  nodeCount?: number;
}

export class Lab {
  readonly dir: string;
  readonly portBase: number;
  readonly controlPlane: ControlPlane;
  readonly nodes: LabNode[];
  /** A project file of the lab's own pointing at the repo's program (`main`), so the stack's
   *  config, encryption salt and secrets live in the lab directory, never in stacks/. */
  readonly projectDir: string;
  readonly configFile: string;
  private readonly quiet: boolean;
  private toolchainBin?: string;

  constructor(opts: LabOptions = {}) {
    this.dir = path.resolve(opts.dir ?? process.env.KUBEVIRT_SRIOV_LAB_DIR ?? path.join(REPO, ".lab"));
    this.portBase = opts.portBase ?? Number(process.env.KUBEVIRT_SRIOV_LAB_PORT_BASE ?? 22200);
    this.quiet = opts.quiet ?? false;
    this.projectDir = path.join(this.dir, "project");
    this.configFile = path.join(this.projectDir, `Pulumi.${STACK}.yaml`);
    this.controlPlane = new ControlPlane(path.join(this.dir, "cluster"), () => this.bin(), {
      etcdClient: this.portBase + 80,
      etcdPeer: this.portBase + 81,
      apiserver: this.portBase + 443,
    });
    const count = opts.nodeCount ?? Number(process.env.KUBEVIRT_SRIOV_LAB_NODES ?? DEFAULT_NODE_COUNT);
    if (!Number.isInteger(count) || count < 1 || count > 64) throw new Error(`lab node count must be 1–64, got ${count}`);
    this.nodes = Array.from({ length: count }, (_, i) => new LabNode(this.dir, {
      name: `lab-node-${i + 1}`,
      sshPort: this.portBase + 1 + i,
      hardware: labHardware(i),
    }));
  }

  /** The toolchain's bin dir: from PATH or built once per machine (lab/toolchain.sh). */
  bin(): string {
    if (this.toolchainBin) return this.toolchainBin;
    const r = spawnSync("bash", [path.join(REPO, "lab", "toolchain.sh"), "path"], { encoding: "utf8" });
    if (r.status !== 0) {
      throw new Error(`the lab toolchain is not built: run \`bash lab/toolchain.sh ensure\` (or \`npm run lab\`, which builds it)\n${r.stderr}`);
    }
    this.toolchainBin = r.stdout.trim().split("\n").pop() as string;
    return this.toolchainBin;
  }

  private get sshKey(): string {
    return path.join(this.dir, "ssh", "id_ed25519");
  }

  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${this.bin()}:${process.env.PATH}`,
      PULUMI_HOME: path.join(this.dir, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${path.join(this.dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "kubevirt-sriov-lab",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
      KUBECONFIG: this.controlPlane.kubeconfig,
    };
  }

  /** Runs the Pulumi CLI on the lab stack, with the lab's own stack config file. */
  pulumi(args: string[], opts: { capture?: boolean; input?: string } = {}): SpawnSyncReturns<string> {
    // Paths on the command line are the repo's (the CLI runs in the lab's project dir).
    const resolved = args.map((a, i) => (i > 0 && ["--policy-pack", "--policy-pack-config"].includes(args[i - 1]) && !path.isAbsolute(a) ? path.join(REPO, a) : a));
    const full = [...resolved, "--stack", STACK, "--non-interactive"];
    const capture = opts.capture ?? this.quiet;
    const r = spawnSync(path.join(this.bin(), "pulumi"), full, {
      cwd: this.projectDir,
      env: this.env(),
      encoding: "utf8",
      input: opts.input,
      stdio: capture ? ["pipe", "pipe", "pipe"] : [opts.input !== undefined ? "pipe" : "inherit", "inherit", "inherit"],
      maxBuffer: 256 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    return r;
  }

  private pulumiOk(args: string[], opts: { input?: string } = {}): string {
    const r = this.pulumi(args, { capture: true, input: opts.input });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Processes up, Node objects in the API server, the stack initialised. Idempotent. */
  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const bin = this.bin();

    step(`control plane: etcd, kube-apiserver, kube-controller-manager (${this.controlPlane.url})`);
    await this.controlPlane.start();
    for (const n of this.nodes) await this.controlPlane.ensureNode(n.spec.name);

    step(`${this.nodes.length} simulated SR-IOV nodes, each with its own sshd on 127.0.0.1`);
    if (!fs.existsSync(this.sshKey)) {
      fs.mkdirSync(path.dirname(this.sshKey), { recursive: true, mode: 0o700 });
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kubevirt-sriov-lab", "-f", this.sshKey], { stdio: "inherit" });
    }
    for (const n of this.nodes) {
      await n.startHardware();
      await n.startSsh(`${this.sshKey}.pub`);
      process.stderr.write(`    ${n.spec.name}: ssh root@127.0.0.1 -p ${n.spec.sshPort}, sysfs ${path.join(n.dir, "sys")}\n`);
    }

    step("Pulumi: local file backend, passphrase secrets, providers from the toolchain");
    this.writeStackConfig();
    fs.mkdirSync(path.join(this.dir, "state"), { recursive: true });
    for (const [name, version] of [["kubernetes", "4.25.0"], ["command", "1.2.1"]]) {
      if (!fs.existsSync(path.join(this.dir, "pulumi-home", "plugins", `resource-${name}-v${version}`))) {
        this.pulumiOkNoStack(["plugin", "install", "resource", name, version, "--file", path.join(bin, `pulumi-resource-${name}`)]);
      }
    }
    const stacks = this.pulumiOkNoStack(["stack", "ls", "--json"]);
    if (!(JSON.parse(stacks) as { name: string }[]).some((s) => s.name === STACK)) {
      this.pulumiOk(["stack", "init", "--secrets-provider", "passphrase"]);
    }
    this.pulumiOk(["config", "set", "--secret", "sshPrivateKey"], { input: fs.readFileSync(this.sshKey, "utf8") });
  }

  private pulumiOkNoStack(args: string[]): string {
    const r = spawnSync(path.join(this.bin(), "pulumi"), [...args, "--non-interactive"], { cwd: this.projectDir, env: this.env(), encoding: "utf8" });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** The lab's project file and its copy of stacks/Pulumi.lab.yaml (with its ports). */
  private writeStackConfig(): void {
    fs.mkdirSync(this.projectDir, { recursive: true });
    const project = yaml.load(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    delete project.stackConfigDir;
    project.main = path.relative(this.projectDir, REPO) || ".";
    fs.writeFileSync(path.join(this.projectDir, "Pulumi.yaml"), yaml.dump(project));
    if (fs.existsSync(this.configFile)) return;
    const doc = yaml.load(fs.readFileSync(path.join(REPO, "stacks", `Pulumi.${STACK}.yaml`), "utf8")) as { config: Record<string, any> };
    const platform = doc.config["kubevirt-sriov:platform"];
    const template = platform.nodes as Record<string, any>[];
    platform.nodes = this.nodes.map((n, i) => ({ ...structuredClone(template[Math.min(i, template.length - 1)]), name: n.spec.name }));
    platform.nodes.forEach((n: { ssh: { port: number; hostKey?: string } }, i: number) => {
      n.ssh.port = this.nodes[i].spec.sshPort;
      // Pinned like on a real fleet (ssh-keyscan): the lab knows its nodes' keys.
      n.ssh.hostKey = this.nodes[i].hostKey();
    });
    // The program resolves relative paths against its working directory: make it absolute.
    platform.kubevirt.operatorManifest.file = path.join(REPO, platform.kubevirt.operatorManifest.file);
    fs.writeFileSync(this.configFile, yaml.dump(doc, { lineWidth: 200 }));
  }

  /** Edits the lab's stack config (the structured key) in place. */
  editPlatform(edit: (platform: Record<string, any>) => void): void {
    const doc = yaml.load(fs.readFileSync(this.configFile, "utf8")) as { config: Record<string, any> };
    edit(doc.config["kubevirt-sriov:platform"]);
    fs.writeFileSync(this.configFile, yaml.dump(doc, { lineWidth: 200 }));
  }

  up(): SpawnSyncReturns<string> {
    return this.pulumi(["up", "--yes", "--skip-preview"]);
  }

  outputs(): Record<string, any> {
    return JSON.parse(this.pulumiOk(["stack", "output", "--json"])) as Record<string, any>;
  }

  destroy(): SpawnSyncReturns<string> {
    return this.pulumi(["destroy", "--yes", "--skip-preview"]);
  }

  /** Stops every lab process and unmounts every simulated sysfs; files stay. */
  stop(): void {
    for (const n of this.nodes) n.stop();
    this.controlPlane.stop();
  }

  status(): string {
    const cp = ["etcd", "kube-apiserver", "kube-controller-manager"];
    const lines = [`lab directory: ${this.dir}`];
    for (const c of cp) lines.push(`  ${c}: ${fs.existsSync(path.join(this.controlPlane.dir, "run", `${c}.pid`)) ? "started" : "stopped"}`);
    for (const n of this.nodes) lines.push(`  ${n.spec.name}: sshd ${n.sshRunning() ? `on 127.0.0.1:${n.spec.sshPort}` : "stopped"}`);
    return lines.join("\n");
  }
}

function nextSteps(lab: Lab): string {
  return [
    "",
    "The lab is up. Try:",
    `  npm run lab -- pulumi stack output --json          # the typed stack outputs again`,
    `  npm run lab -- pulumi preview --policy-pack policies   # the policy pack through the real engine`,
    `  ssh -i ${path.join(lab.dir, "ssh", "id_ed25519")} -p ${lab.nodes[0].spec.sshPort} root@127.0.0.1 'bash "$ETC_ROOT/kubevirt-sriov/sriov-node.sh" discover'`,
    `  edit ${lab.configFile} (e.g. a numVfs), then: npm run lab -- pulumi up --yes`,
    `  KUBECONFIG=${lab.controlPlane.kubeconfig} kubectl get nad,vm,kubevirt -A   # if you have kubectl`,
    "  npm run lab:down                                   # destroy, stop everything",
    "",
    "Not exercised here: there is no kubelet, so no pod runs, no VM boots and no packet flows;",
    "the KubeVirt operator is a stand-in that only creates KubeVirt's kinds.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [cmd = "up", ...rest] = argv;
  const lab = new Lab();
  switch (cmd) {
    case "up": {
      await lab.start();
      step("pulumi up");
      const up = lab.up();
      if (up.status !== 0) {
        process.stderr.write("\npulumi up failed; the lab is still running (npm run lab:down stops it).\n");
        return up.status ?? 1;
      }
      step("stack outputs");
      lab.pulumi(["stack", "output", "--json"]);
      step("pre-flight report (reports/lab.md)");
      spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(REPO, "report", "cli.ts"), "lab"], { cwd: REPO, stdio: "inherit" });
      process.stdout.write(nextSteps(lab) + "\n");
      return 0;
    }
    case "start":
      await lab.start();
      return 0;
    case "down": {
      let status = 0;
      if (fs.existsSync(lab.configFile)) {
        await lab.start();
        step("pulumi destroy");
        status = lab.destroy().status ?? 1;
      }
      step("stopping every lab process");
      lab.stop();
      process.stderr.write(status === 0 ? "done: nothing of the lab runs any more.\n" : "destroy failed: processes stopped, state kept in the lab directory.\n");
      return status;
    }
    case "stop":
      lab.stop();
      return 0;
    case "status":
      process.stdout.write(lab.status() + "\n");
      return 0;
    case "pulumi":
      return lab.pulumi(rest, { capture: false }).status ?? 1;
    default:
      process.stderr.write(`unknown lab command "${cmd}": use up, down, start, stop, status or pulumi <args>\n`);
      return 64;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`lab: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
