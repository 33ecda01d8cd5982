// The local lab: the whole program, for real, on one machine — the Pulumi engine and its
// providers, a real kube-apiserver, real SSH to SR-IOV nodes: real Linux kernels in QEMU guests
// with emulated SR-IOV NICs (lab/guest/), or with --sim simulated nodes (a FUSE sysfs, test/sim).
//   npm run lab                 set up, start, pulumi up, show outputs and the report
//   npm run lab -- --sim        the same with simulated nodes
//   npm run lab:down            pulumi destroy, stop every lab process (guests by their PID)
//   npm run lab -- status|start|stop|pulumi <args...>
//   npm run lab -- vf-pod       a pod with a VF (real-kubelet lab): what Multus and the SR-IOV CNI gave it
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { CONFIG_ROOT } from "../config/schema";
import { build as buildProgram } from "../build";
import { ControlPlane } from "./controlPlane";
import { daemonPid, stopDaemon } from "./processes";
import { labHardware, LabNode } from "./nodes";
import { discoverGuest, GUEST_POOLS, guestPhysicalFunctions, KUBELET_NETWORKS, sriovPfs } from "./guest/layout";
import { ensureImage, Guest, labGuestSpecs, startGuests } from "./guest/guests";
import { ensureKubeletArtifacts, joinGuests, kubeSchedulerBin, servedImage, startRegistry } from "./kubelet/kubelets";
import { GUEST_API_ADDRESS, REGISTRY_MIRROR } from "./kubelet/nodeConfig";
import { createPod, deletePod, networkStatus, podExec, vfPod, waitRunning } from "./kubelet/pods";

export const REPO = path.join(__dirname, "..");
export const STACK = "lab";
const DEFAULT_NODE_COUNT = 3;
/** Real-kernel nodes are QEMU guests under TCG: two keep a 2-core machine responsive. */
const DEFAULT_GUEST_COUNT = 2;

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
  /** Nodes (default 3 simulated or 2 guests, or $KUBEVIRT_SRIOV_LAB_NODES); past the stack
   *  file's three, simulated nodes are copies of its last one. */
  nodeCount?: number;
  /** Real-kernel nodes: QEMU guests with igb SR-IOV NICs (lab/guest/) instead of simulated ones. */
  kernel?: boolean;
  /**
   * With kernel: each guest also runs containerd, a kubelet and kube-proxy joined to the lab's API
   * server (lab/kubelet/), the agents' images come from a local registry (registryMirror), and
   * `pulumi up` waits for the agents to be Ready (waitForReadiness). Default false.
   */
  kubelets?: boolean;
}

export class Lab {
  readonly dir: string;
  readonly portBase: number;
  readonly controlPlane: ControlPlane;
  /** Simulated nodes (none when the lab runs real-kernel guests). */
  readonly nodes: LabNode[];
  /** Real-kernel nodes: QEMU guests (none when the lab runs simulated nodes). */
  readonly guests: Guest[];
  readonly kernel: boolean;
  readonly kubelets: boolean;
  /** 127.0.0.1 port of the lab registry (kubelets only). */
  readonly registryPort: number;
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
    this.kernel = opts.kernel ?? false;
    this.kubelets = this.kernel && (opts.kubelets ?? false);
    this.registryPort = this.portBase + 50;
    this.controlPlane = new ControlPlane(
      path.join(this.dir, "cluster"),
      () => this.bin(),
      {
        etcdClient: this.portBase + 80,
        etcdPeer: this.portBase + 81,
        apiserver: this.portBase + 443,
      },
      this.kubelets ? { advertiseAddress: GUEST_API_ADDRESS, schedulerBin: kubeSchedulerBin } : undefined,
    );
    const count =
      opts.nodeCount ??
      Number(process.env.KUBEVIRT_SRIOV_LAB_NODES ?? (this.kernel ? DEFAULT_GUEST_COUNT : DEFAULT_NODE_COUNT));
    if (!Number.isInteger(count) || count < 1 || count > 64)
      throw new Error(`lab node count must be 1–64, got ${count}`);
    this.nodes = this.kernel
      ? []
      : Array.from(
          { length: count },
          (_, i) =>
            new LabNode(this.dir, {
              name: `lab-node-${i + 1}`,
              sshPort: this.portBase + 1 + i,
              hardware: labHardware(i),
            }),
        );
    // Guest i: sshd at portBase+1+i (like simulated node i), PF wires from portBase+100.
    this.guests = this.kernel
      ? labGuestSpecs(count, (i) => this.portBase + 1 + i, this.portBase + 100).map(
          (spec) => new Guest(this.dir, spec, this.adminKey, [`${this.sshKey}.pub`]),
        )
      : [];
    if (this.kubelets) {
      // A kubelet, containerd and the agents need room; guests 1 and 2 share the cluster wire.
      for (const g of this.guests) g.spec.memoryMiB = 2048;
    }
  }

  /** Every node's name, simulated or guest. */
  nodeNames(): string[] {
    return this.kernel ? this.guests.map((g) => g.name) : this.nodes.map((n) => n.spec.name);
  }

  /** The toolchain's bin dir: from PATH or built once per machine (lab/toolchain.sh). */
  bin(): string {
    if (this.toolchainBin) return this.toolchainBin;
    const r = spawnSync("bash", [path.join(REPO, "lab", "toolchain.sh"), "path"], { encoding: "utf8" });
    if (r.status !== 0) {
      throw new Error(
        `the lab toolchain is not built: run \`bash lab/toolchain.sh ensure\` (or \`npm run lab\`, which builds it)\n${r.stderr}`,
      );
    }
    this.toolchainBin = r.stdout.trim().split("\n").pop() as string;
    return this.toolchainBin;
  }

  private get sshKey(): string {
    return path.join(this.dir, "ssh", "id_ed25519");
  }

  /** The key the lab itself (and its tests) log in to guests with; Pulumi uses sshKey. Two keys,
   *  so the guests' sshd logs tell the program's sessions from the lab's. */
  get adminKey(): string {
    return path.join(this.dir, "ssh", "admin_ed25519");
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
    const resolved = args.map((a, i) =>
      i > 0 && ["--policy-pack", "--policy-pack-config"].includes(args[i - 1]) && !path.isAbsolute(a)
        ? path.join(REPO, a)
        : a,
    );
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

    this.checkMode();
    // The engine runs main.js, which runs bin/ when it is current: built here, every pulumi run in
    // the lab runs the compiled program (test/unit/program-build.test.ts covers the other path).
    if (buildProgram()) step("program compiled into bin/ (node build.js)");
    step(`control plane: etcd, kube-apiserver, kube-controller-manager (${this.controlPlane.url})`);
    await this.controlPlane.start();
    // Kubelets register their own Nodes; otherwise the lab makes them.
    if (!this.kubelets) for (const name of this.nodeNames()) await this.controlPlane.ensureNode(name);

    for (const [key, comment] of [
      [this.sshKey, "kubevirt-sriov-lab"],
      [this.adminKey, "kubevirt-sriov-lab-admin"],
    ]) {
      if (fs.existsSync(key)) continue;
      fs.mkdirSync(path.dirname(key), { recursive: true, mode: 0o700 });
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key], { stdio: "inherit" });
    }
    if (this.kernel) {
      await this.startGuests();
    } else {
      step(`${this.nodes.length} simulated SR-IOV nodes, each with its own sshd on 127.0.0.1`);
      for (const n of this.nodes) {
        await n.startHardware();
        await n.startSsh(`${this.sshKey}.pub`);
        process.stderr.write(
          `    ${n.spec.name}: ssh root@127.0.0.1 -p ${n.spec.sshPort}, sysfs ${path.join(n.dir, "sys")}\n`,
        );
      }
    }

    step("Pulumi: local file backend, passphrase secrets, providers from the toolchain");
    await this.writeStackConfig();
    fs.mkdirSync(path.join(this.dir, "state"), { recursive: true });
    for (const [name, version] of [
      ["kubernetes", "4.25.0"],
      ["command", "1.2.1"],
    ]) {
      if (!fs.existsSync(path.join(this.dir, "pulumi-home", "plugins", `resource-${name}-v${version}`))) {
        this.pulumiOkNoStack([
          "plugin",
          "install",
          "resource",
          name,
          version,
          "--file",
          path.join(bin, `pulumi-resource-${name}`),
        ]);
      }
    }
    const stacks = this.pulumiOkNoStack(["stack", "ls", "--json"]);
    if (!(JSON.parse(stacks) as { name: string }[]).some((s) => s.name === STACK)) {
      this.pulumiOk(["stack", "init", "--secrets-provider", "passphrase"]);
    }
    this.pulumiOk(["config", "set", "--secret", "sshPrivateKey"], { input: fs.readFileSync(this.sshKey, "utf8") });
  }

  private pulumiOkNoStack(args: string[]): string {
    const r = spawnSync(path.join(this.bin(), "pulumi"), [...args, "--non-interactive"], {
      cwd: this.projectDir,
      env: this.env(),
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** A lab directory runs one kind of nodes at a time: switching needs `npm run lab:down` first,
   *  and then starts the stack config afresh (its nodes, ports and host keys are the other kind's). */
  private checkMode(): void {
    const f = path.join(this.dir, "nodes-kind");
    const mine = this.kernel ? "kernel" : "sim";
    const theirs = Lab.kindIn(this.dir);
    if (theirs !== undefined && theirs !== mine) {
      const running =
        fs.existsSync(path.join(this.dir, "run")) &&
        fs
          .readdirSync(path.join(this.dir, "run"))
          .some((p) => p.endsWith(".pid") && daemonPid(this.dir, p.slice(0, -4)) !== undefined);
      if (running) {
        throw new Error(
          `the lab in ${this.dir} runs ${theirs === "sim" ? "simulated nodes (--sim)" : "real-kernel guests"}: \`npm run lab:down\` first, or use that kind`,
        );
      }
      fs.rmSync(this.configFile, { force: true });
    }
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(f, mine + "\n");
  }

  /** The kind of nodes the lab in `dir` was started with, if any. */
  static kindIn(dir: string): "kernel" | "sim" | undefined {
    const f = path.join(dir, "nodes-kind");
    if (!fs.existsSync(f)) return undefined;
    return fs.readFileSync(f, "utf8").trim() === "kernel" ? "kernel" : "sim";
  }

  /** Builds (or finds) the guest image, boots every guest not running yet, waits for sshd. */
  async startGuests(): Promise<void> {
    if (this.kubelets) {
      step(
        "node stack: containerd, runc, kubelet, kube-proxy, CNI plugins and the agents' images (built once per machine)",
      );
      const a = await ensureKubeletArtifacts();
      const wire = (i: number) => this.portBase + 200 + i;
      for (const [i, g] of this.guests.entries()) {
        // Guests 1 and 2 share the cluster wire; a third guest's wire leads nowhere.
        const peer = i === 0 ? 1 : i === 1 ? 0 : 16 + i;
        g.spec.kubelet = {
          toolsDisk: a.toolsDisk,
          apiPort: this.controlPlane.ports.apiserver,
          registryPort: this.registryPort,
          clusterWire: { localPort: wire(i), remotePort: wire(peer) },
        };
      }
      step(
        `lab registry on 127.0.0.1:${this.registryPort} (the guests' ${REGISTRY_MIRROR}, the stack's registryMirror)`,
      );
      await startRegistry(this.dir, a.images, this.registryPort);
    }
    step(`${this.guests.length} real-kernel nodes: QEMU guests (TCG) with emulated igb SR-IOV NICs`);
    const image = await ensureImage();
    const t = await startGuests(this.guests, image);
    for (const [i, g] of this.guests.entries()) {
      process.stderr.write(
        `    ${g.name}: ${g.spec.pfs.length} igb PF(s), ssh root@127.0.0.1 -p ${g.spec.sshPort} (up in ${Math.round(t[i])} s), console ${g.console}\n`,
      );
    }
    if (this.kubelets) {
      step("kubelets: containerd, kubelet and kube-proxy in every guest, joined to the lab's API server");
      const j = await joinGuests(this.controlPlane, this.guests);
      for (const [i, g] of this.guests.entries())
        process.stderr.write(`    ${g.name}: Node Ready in ${Math.round(j[i])} s\n`);
    }
  }

  /** The lab's project file and its copy of stacks/Pulumi.lab.yaml (with its ports). */
  private async writeStackConfig(): Promise<void> {
    fs.mkdirSync(this.projectDir, { recursive: true });
    const project = yaml.load(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    delete project.stackConfigDir;
    project.main = path.relative(this.projectDir, REPO) || ".";
    // The language host resolves runtime.options.tsconfig against the project directory: the repo's file.
    const options = (project.runtime as { options?: { tsconfig?: string } } | undefined)?.options;
    if (options?.tsconfig) options.tsconfig = path.join(REPO, options.tsconfig);
    fs.writeFileSync(path.join(this.projectDir, "Pulumi.yaml"), yaml.dump(project));
    if (fs.existsSync(this.configFile)) return;
    const doc = yaml.load(fs.readFileSync(path.join(REPO, "stacks", `Pulumi.${STACK}.yaml`), "utf8")) as {
      config: Record<string, any>;
    };
    const platform = doc.config[CONFIG_ROOT];
    const template = platform.nodes as Record<string, any>[];
    const names = this.nodeNames();
    platform.nodes = names.map((name, i) => ({ ...structuredClone(template[Math.min(i, template.length - 1)]), name }));
    for (const [i, n] of (
      platform.nodes as { ssh: { port: number; hostKey?: string }; physicalFunctions: unknown }[]
    ).entries()) {
      // Pinned like on a real fleet (ssh-keyscan): the lab knows its nodes' keys.
      if (this.kernel) {
        const g = this.guests[i];
        n.ssh.port = g.spec.sshPort;
        n.ssh.hostKey = g.hostKey();
        // The PFs the real kernel reports, in a layout igb can carry (lab/guest/layout.ts).
        n.physicalFunctions = guestPhysicalFunctions(i, sriovPfs(await discoverGuest(g)), this.kubelets);
      } else {
        n.ssh.port = this.nodes[i].spec.sshPort;
        n.ssh.hostKey = this.nodes[i].hostKey();
      }
    }
    if (this.kernel) platform.pools = [...platform.pools, ...GUEST_POOLS];
    if (this.kubelets) {
      platform.networks = [...platform.networks, ...KUBELET_NETWORKS];
    } else {
      // No kubelet: no pod ever becomes Ready and no image is pulled.
      platform.waitForReadiness = false;
      delete platform.registryMirror;
    }
    // The program resolves relative paths against its working directory: make it absolute.
    platform.kubevirt.operatorManifest.file = path.join(REPO, platform.kubevirt.operatorManifest.file);
    fs.writeFileSync(this.configFile, yaml.dump(doc, { lineWidth: 200 }));
  }

  /** Edits the lab's stack config (the structured key) in place. */
  editPlatform(edit: (platform: Record<string, any>) => void): void {
    const doc = yaml.load(fs.readFileSync(this.configFile, "utf8")) as { config: Record<string, any> };
    edit(doc.config[CONFIG_ROOT]);
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

  /** Stops every lab process (guests by their PID) and unmounts every simulated sysfs; files stay.
   *  Synchronous when the lab has no guests. */
  async stop(): Promise<void> {
    for (const g of this.guests) await g.stop();
    for (const n of this.nodes) n.stop();
    this.controlPlane.stop();
    stopDaemon(this.dir, "registry");
  }

  status(): string {
    const cp = ["etcd", "kube-apiserver", "kube-controller-manager", ...(this.kubelets ? ["kube-scheduler"] : [])];
    const lines = [`lab directory: ${this.dir}`];
    for (const c of cp)
      lines.push(
        `  ${c}: ${fs.existsSync(path.join(this.controlPlane.dir, "run", `${c}.pid`)) ? "started" : "stopped"}`,
      );
    for (const n of this.nodes)
      lines.push(`  ${n.spec.name}: sshd ${n.sshRunning() ? `on 127.0.0.1:${n.spec.sshPort}` : "stopped"}`);
    for (const g of this.guests)
      lines.push(
        `  ${g.name}: ${g.running() ? `QEMU pid ${g.pid}, sshd on 127.0.0.1:${g.spec.sshPort}` : "stopped"} (console ${g.console})`,
      );
    return lines.join("\n");
  }
}

function nextSteps(lab: Lab): string {
  const g = lab.guests[0];
  const sshLine = g
    ? `  ssh -i ${lab.adminKey} -o UserKnownHostsFile=${g.knownHosts} -p ${g.spec.sshPort} root@127.0.0.1 'ip link show; ls /dev/vfio'   # a real kernel`
    : `  ssh -i ${path.join(lab.dir, "ssh", "id_ed25519")} -p ${lab.nodes[0].spec.sshPort} root@127.0.0.1 'bash "$ETC_ROOT/kubevirt-sriov/sriov-node.sh" discover'`;
  return [
    "",
    "The lab is up. Try:",
    `  npm run lab -- pulumi stack output --json          # the typed stack outputs again`,
    `  npm run lab -- pulumi preview --policy-pack policies   # the policy pack through the real engine`,
    sshLine,
    `  edit ${lab.configFile} (e.g. a numVfs), then: npm run lab -- pulumi up --yes`,
    `  KUBECONFIG=${lab.controlPlane.kubeconfig} kubectl get nad,vm,kubevirt -A   # if you have kubectl`,
    "  npm run lab:down                                   # destroy, stop everything",
    "",
    `  npm run lab -- status                              # ${lab.kernel ? "guests' PIDs and consoles" : "what runs"}`,
    ...(lab.kubelets
      ? [
          "  npm run lab -- vf-pod                              # a pod on lab-node-1 with a VF from the pod-net NAD: its net1, the PF's view",
          "",
          "Real kubelets run the program's Multus, device plugin and SR-IOV CNI here. Not exercised: no VM",
          "boots (the KubeVirt operator is a stand-in that only creates KubeVirt's kinds).",
        ]
      : [
          "",
          "Not exercised here: there is no kubelet, so no pod runs, no VM boots and no packet flows;",
          "the KubeVirt operator is a stand-in that only creates KubeVirt's kinds.",
        ]),
  ].join("\n");
}

/** `npm run lab -- vf-pod`: a test pod with a pod_net VF on lab-node-1 (made once), and what it got. */
async function showVfPod(lab: Lab): Promise<string> {
  if (!lab.kubelets) throw new Error("vf-pod needs the real-kubelet lab (npm run lab, not --sim)");
  const cp = lab.controlPlane;
  const name = "lab-vf-pod";
  if (!(await cp.find(`/api/v1/namespaces/default/pods/${name}`))) {
    await createPod(
      cp,
      vfPod({
        name,
        node: lab.guests[0].name,
        image: servedImage(lab.dir, "net-tools"),
        networks: [{ name: "pod-net", ips: ["10.56.0.21/24"], mac: "02:00:5e:00:30:21" }],
        resources: { "intel.com/pod_net": 1 },
      }),
    );
  }
  const pod = await waitRunning(cp, "default", name, 600_000);
  const net1 = networkStatus(pod).find((n) => n.interface === "net1");
  const inPod = await podExec(
    lab.guests[0],
    "default",
    name,
    "ip -d addr show net1; echo; echo driver: $(basename $(readlink /sys/class/net/net1/device/driver))",
  );
  const pfView = await lab.guests[0].run(
    "for pf in /sys/class/net/*/device/sriov_numvfs; do n=$(basename $(dirname $(dirname $pf))); ip link show $n; done",
  );
  return [
    `pod default/${name} on ${lab.guests[0].name}: Multus attached ${JSON.stringify(net1)}`,
    "",
    "inside the pod:",
    inPod.trimEnd(),
    "",
    "the node's PFs (each VF's MAC, VLAN, spoof checking, trust):",
    pfView.trimEnd(),
    "",
    "delete it with: npm run lab -- vf-pod --delete",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  // --sim: simulated nodes; otherwise real-kernel guests, except that `down`, `stop` and `status`
  // follow whatever the lab directory was started with.
  const pulumiArgs = argv[0] === "pulumi";
  const sim = !pulumiArgs && argv.includes("--sim");
  const [cmd = "up", ...rest] = pulumiArgs ? argv : argv.filter((a) => a !== "--sim");
  const dir = path.resolve(process.env.KUBEVIRT_SRIOV_LAB_DIR ?? path.join(REPO, ".lab"));
  const started = Lab.kindIn(dir);
  const kernel =
    ["down", "stop", "status", "pulumi", "vf-pod"].includes(cmd) && started !== undefined ? started === "kernel" : !sim;
  // `npm run lab` runs kubelets in its guests; KUBEVIRT_SRIOV_LAB_KUBELETS=0 leaves them out.
  const lab = new Lab({ kernel, kubelets: kernel && process.env.KUBEVIRT_SRIOV_LAB_KUBELETS !== "0" });
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
      spawnSync(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", path.join(REPO, "report", "cli.ts"), "lab"],
        { cwd: REPO, stdio: "inherit" },
      );
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
        if (lab.kubelets) {
          // The lab's own pod holds a VF: node preparation refuses to revert a VF in use.
          step("deleting the lab's vf-pod");
          await deletePod(lab.controlPlane, "default", "lab-vf-pod");
        }
        step("pulumi destroy");
        status = lab.destroy().status ?? 1;
      }
      step("stopping every lab process");
      await lab.stop();
      process.stderr.write(
        status === 0
          ? "done: nothing of the lab runs any more.\n"
          : "destroy failed: processes stopped, state kept in the lab directory.\n",
      );
      return status;
    }
    case "stop":
      await lab.stop();
      return 0;
    case "status":
      process.stdout.write(lab.status() + "\n");
      return 0;
    case "pulumi":
      return lab.pulumi(rest, { capture: false }).status ?? 1;
    case "vf-pod":
      if (rest.includes("--delete")) {
        await deletePod(lab.controlPlane, "default", "lab-vf-pod");
        return 0;
      }
      process.stdout.write((await showVfPod(lab)) + "\n");
      return 0;
    default:
      process.stderr.write(
        `unknown lab command "${cmd}": use up, down, start, stop, status, vf-pod or pulumi <args>\n`,
      );
      return 64;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`lab: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
