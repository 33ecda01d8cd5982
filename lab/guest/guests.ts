// The lab's real-kernel nodes: QEMU guests (TCG) booting Debian's 6.12 kernel with emulated
// Intel 82576 NICs (`-device igb`: SR-IOV PFs, 7 VFs each, VF driver igbvf) behind an emulated
// Intel IOMMU, so VFs bind to vfio-pci for real. Each guest has:
//   <lab>/guests/<name>/overlay.qcow2   its disk: a qcow2 overlay on the cached image (build-image.sh)
//   <lab>/guests/<name>/seed/           its identity, made here: hostname, SSH host key (generated on
//                                        the host, so the stack can pin it), authorized keys
//   <lab>/guests/<name>/seed.tar        the seed as a read-only disk (serial kvs-seed), read at boot
//   <lab>/guests/<name>/console.log     the serial console (appended across boots)
//   <lab>/guests/<name>/known_hosts     its pinned host key, for the lab's own ssh
//   <lab>/run/qemu-<name>.pid, <lab>/logs/qemu-<name>.log   the QEMU process (lab/processes.ts)
// Networking never leaves loopback: management is QEMU user networking with restrict=on and a
// hostfwd of 127.0.0.1:<sshPort> to the guest's sshd; each PF's wire is a `-netdev dgram` between
// two 127.0.0.1 UDP ports, so two guests' PFs share a wire.
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { GUEST_API_ADDRESS, GUEST_REGISTRY_ADDRESS, GUEST_REGISTRY_PORT } from "../kubelet/nodeConfig";
import { daemonPid, logFile, startDaemon, stopDaemon } from "../processes";

const GUEST_DIR = __dirname;
export const QEMU = "qemu-system-x86_64";

/** One PF's wire: a UDP datagram socket on 127.0.0.1:localPort sending to 127.0.0.1:remotePort. */
export interface PfWire {
  localPort: number;
  remotePort: number;
}

/** What a guest needs to run a kubelet (the real-kubelet lab, lab/kubelet/). */
export interface GuestKubelet {
  /** The node-tools disk (lab/kubelet/node-disk.sh), attached read-only with serial kvs-tools. */
  toolsDisk: string;
  /** Host port of the kube-apiserver: the guest reaches it on GUEST_API_ADDRESS at the same port. */
  apiPort: number;
  /** Host port of the lab registry: the guest reaches it on GUEST_REGISTRY_ADDRESS:5000. */
  registryPort: number;
  /** The cluster NIC's wire to the other guest (node IPs, pod routes). */
  clusterWire: PfWire;
}

export interface GuestSpec {
  /** Hostname inside the guest = its Kubernetes node name. */
  name: string;
  /** 127.0.0.1 port forwarded to the guest's sshd. */
  sshPort: number;
  /** One entry per igb PF, in PCI order (the first is enp1s0, the second enp2s0, ...). */
  pfs: PfWire[];
  /** Distinct per guest of a lab: its NICs' MACs are 52:54:00:4b:<index>:<nic>. */
  index: number;
  memoryMiB?: number;
  cpus?: number;
  /** Set for kubelet nodes: the tools disk, the guestfwds to the host's services, the cluster NIC. */
  kubelet?: GuestKubelet;
}

export interface SshResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The cached guest image (lab/guest/build-image.sh): kernel, initrd and root file system. */
export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  rootfs: string;
}

function imageAt(dir: string): GuestImage {
  return {
    dir,
    kernel: path.join(dir, "vmlinuz"),
    initrd: path.join(dir, "initrd.img"),
    rootfs: path.join(dir, "rootfs.img"),
  };
}

/** The image if it is built (no build). */
export function builtImage(): GuestImage | undefined {
  const r = spawnText("bash", [path.join(GUEST_DIR, "build-image.sh"), "path"]);
  return r.status === 0 ? imageAt(r.stdout.trim().split("\n").pop() as string) : undefined;
}

/** Builds the image unless cached (or waits for a build already running); progress on stderr. */
export function ensureImage(): Promise<GuestImage> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(GUEST_DIR, "build-image.sh"), "ensure"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(imageAt(out.trim().split("\n").pop() as string));
      else
        reject(new Error(`the guest image build failed (exit ${code}); see ~/.cache/kubevirt-sriov/guest/build.log`));
    });
  });
}

function spawnText(cmd: string, args: string[]): SshResult {
  try {
    const stdout = execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { status: 0, stdout, stderr: "" };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { status: err.status ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? String(e) };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when something on 127.0.0.1:port answers with an SSH banner (hostfwd alone accepts TCP). */
export function sshBanner(port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("data", (d) => done(d.toString("latin1").startsWith("SSH-")));
    s.once("error", () => done(false));
    s.once("close", () => done(false));
  });
}

export class Guest {
  readonly dir: string;
  readonly seedDir: string;
  readonly overlay: string;
  readonly console: string;
  readonly knownHosts: string;

  /** QEMU's own stdout and stderr (an assertion or a crash shows here, not on the console). */
  get qemuLog(): string {
    return logFile(this.labDir, this.daemon);
  }

  /**
   * labDir: the lab directory; adminKey: the private key the lab itself logs in with (its public
   * half, with every key in authorizedKeys, goes into the guest's authorized_keys).
   */
  constructor(
    readonly labDir: string,
    readonly spec: GuestSpec,
    readonly adminKey: string,
    readonly authorizedKeys: string[],
  ) {
    this.dir = path.join(labDir, "guests", spec.name);
    this.seedDir = path.join(this.dir, "seed");
    this.overlay = path.join(this.dir, "overlay.qcow2");
    this.console = path.join(this.dir, "console.log");
    this.knownHosts = path.join(this.dir, "known_hosts");
  }

  get name(): string {
    return this.spec.name;
  }

  private get daemon(): string {
    return `qemu-${this.spec.name}`;
  }

  get pid(): number | undefined {
    return daemonPid(this.labDir, this.daemon);
  }

  running(): boolean {
    return this.pid !== undefined;
  }

  /** The guest's public host key, "ssh-ed25519 AAAA..." (what ssh-keyscan prints, without the host). */
  hostKey(): string {
    return fs
      .readFileSync(path.join(this.seedDir, "ssh_host_ed25519_key.pub"), "utf8")
      .trim()
      .split(" ")
      .slice(0, 2)
      .join(" ");
  }

  /** Host key (generated once, on the host), authorized keys and hostname into the seed disk. */
  private writeSeed(): string {
    fs.mkdirSync(this.seedDir, { recursive: true, mode: 0o700 });
    const key = path.join(this.seedDir, "ssh_host_ed25519_key");
    if (!fs.existsSync(key))
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${this.name}-host`, "-f", key]);
    fs.writeFileSync(path.join(this.seedDir, "hostname"), `${this.name}\n`);
    const pubs = [`${this.adminKey}.pub`, ...this.authorizedKeys].map((f) => fs.readFileSync(f, "utf8").trim());
    fs.writeFileSync(path.join(this.seedDir, "authorized_keys"), [...new Set(pubs)].join("\n") + "\n");
    fs.writeFileSync(this.knownHosts, `[127.0.0.1]:${this.spec.sshPort} ${this.hostKey()}\n`);
    const tar = path.join(this.dir, "seed.tar");
    execFileSync("tar", [
      "-C",
      this.seedDir,
      "--owner=0",
      "--group=0",
      "-cf",
      tar,
      "hostname",
      "ssh_host_ed25519_key",
      "ssh_host_ed25519_key.pub",
      "authorized_keys",
    ]);
    return tar;
  }

  /** A qcow2 overlay on the image, kept across starts (a node's disk) unless the image changed. */
  private ensureOverlay(image: GuestImage, fresh: boolean): void {
    const marker = path.join(this.dir, "image");
    const same =
      fs.existsSync(this.overlay) && fs.existsSync(marker) && fs.readFileSync(marker, "utf8") === image.rootfs;
    if (same && !fresh) return;
    fs.rmSync(this.overlay, { force: true });
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", image.rootfs, this.overlay]);
    fs.writeFileSync(marker, image.rootfs);
  }

  /** QEMU's command line (pure: tests read it). */
  qemuArgs(image: GuestImage, seedTar: string): string[] {
    const s = this.spec;
    const mac = (nic: number) =>
      `52:54:00:4b:${s.index.toString(16).padStart(2, "0")}:${nic.toString(16).padStart(2, "0")}`;
    const args = [
      "-name",
      s.name,
      "-machine",
      "q35,kernel-irqchip=split",
      "-accel",
      "tcg,thread=multi",
      "-cpu",
      "max",
      "-smp",
      String(s.cpus ?? 2),
      "-m",
      String(s.memoryMiB ?? 1536),
      "-device",
      "intel-iommu,intremap=on,caching-mode=on",
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-chardev",
      `file,id=console,path=${this.console},append=on`,
      "-serial",
      "chardev:console",
      "-kernel",
      image.kernel,
      "-initrd",
      image.initrd,
      "-append",
      "root=LABEL=kvs-root rw console=ttyS0 intel_iommu=on iommu=pt",
      "-drive",
      `file=${this.overlay},if=none,id=root,format=qcow2,discard=unmap`,
      "-device",
      "virtio-blk-pci,drive=root",
      "-drive",
      `file=${seedTar},if=none,id=seed,format=raw,readonly=on`,
      "-device",
      "virtio-blk-pci,drive=seed,serial=kvs-seed",
      "-netdev",
      `user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:${s.sshPort}-:22${this.guestForwards()}`,
      "-device",
      `virtio-net-pci,netdev=mgmt,mac=${mac(0)}`,
    ];
    const k = s.kubelet;
    if (k) {
      const w = k.clusterWire;
      args.push(
        "-drive",
        `file=${k.toolsDisk},if=none,id=tools,format=raw,readonly=on`,
        "-device",
        "virtio-blk-pci,drive=tools,serial=kvs-tools",
        "-netdev",
        `dgram,id=cluster,local.type=inet,local.host=127.0.0.1,local.port=${w.localPort},remote.type=inet,remote.host=127.0.0.1,remote.port=${w.remotePort}`,
        // e1000e, not virtio-net: the image's 10-mgmt.network takes every virtio NIC.
        "-device",
        `e1000e,netdev=cluster,mac=${mac(0x10)}`,
      );
    }
    s.pfs.forEach((w, i) => {
      const n = i + 1;
      args.push(
        "-device",
        `pcie-root-port,id=rp${n},chassis=${n},slot=${n}`,
        "-netdev",
        `dgram,id=wire${n},local.type=inet,local.host=127.0.0.1,local.port=${w.localPort},remote.type=inet,remote.host=127.0.0.1,remote.port=${w.remotePort}`,
        "-device",
        `igb,bus=rp${n},netdev=wire${n},mac=${mac(n)}`,
      );
      // Kubelet guests record their PF wires (what the NIC puts on the wire, VLAN tags included).
      if (s.kubelet)
        args.push("-object", `filter-dump,id=dump${n},netdev=wire${n},file=${this.wireCapture(n)},maxlen=256`);
    });
    return args;
  }

  /**
   * A kubelet guest reaches the host's apiserver and registry only through these: each connection
   * to the guest-side address runs `socat` to the service on 127.0.0.1 (restrict=on blocks all else).
   */
  private guestForwards(): string {
    const k = this.spec.kubelet;
    if (!k) return "";
    const fwd = (addr: string, port: number, hostPort: number) =>
      `,guestfwd=tcp:${addr}:${port}-cmd:socat STDIO TCP:127.0.0.1:${hostPort}`;
    return (
      fwd(GUEST_API_ADDRESS, k.apiPort, k.apiPort) + fwd(GUEST_REGISTRY_ADDRESS, GUEST_REGISTRY_PORT, k.registryPort)
    );
  }

  /** Starts QEMU (no wait for the boot: see waitForSsh). `fresh` discards the guest's disk. */
  start(image: GuestImage, opts: { fresh?: boolean } = {}): number {
    if (this.running()) return this.pid as number;
    fs.mkdirSync(this.dir, { recursive: true });
    const seed = this.writeSeed();
    this.ensureOverlay(image, opts.fresh ?? false);
    fs.appendFileSync(this.console, `\n===== lab: QEMU started ${new Date().toISOString()} =====\n`);
    return startDaemon(this.labDir, this.daemon, QEMU, this.qemuArgs(image, seed));
  }

  /** The pcap file of PF n's wire (1-based, kubelet guests only), appended by QEMU's filter-dump. */
  wireCapture(n: number): string {
    return path.join(this.dir, `wire${n}.pcap`);
  }

  /** The last meaningful line of the serial console (for progress lines). */
  consoleTail(): string {
    if (!fs.existsSync(this.console)) return "";
    const fd = fs.openSync(this.console, "r");
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(4096, size));
      fs.readSync(fd, buf, 0, buf.length, size - buf.length);
      const lines = buf
        .toString("utf8")
        // eslint-disable-next-line no-control-regex -- the console's ANSI escapes start with ESC
        .replace(/\x1b(\[[0-9;?]*[A-Za-z]|[A-Za-z])/g, "")
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean);
      return lines.length ? lines[lines.length - 1] : "";
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Runs a command in the guest over SSH with the lab's admin key, the host key pinned. */
  ssh(
    command: string,
    opts: { input?: string | Buffer; timeoutMs?: number; knownHosts?: string; key?: string } = {},
  ): Promise<SshResult> {
    const args = [
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${opts.knownHosts ?? this.knownHosts}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "ConnectTimeout=10",
      "-o",
      "ServerAliveInterval=5",
      "-o",
      "ServerAliveCountMax=6",
      "-o",
      "LogLevel=ERROR",
      "-i",
      opts.key ?? this.adminKey,
      "-p",
      String(this.spec.sshPort),
      "root@127.0.0.1",
      command,
    ];
    return new Promise((resolve) => {
      const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 300_000);
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", (e) => {
        clearTimeout(timer);
        resolve({ status: null, stdout, stderr: stderr + String(e) });
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ status: code, stdout, stderr });
      });
      child.stdin.end(opts.input ?? "");
    });
  }

  /** Like ssh(), but throws unless the command exits 0; returns stdout. */
  async run(command: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.ssh(command, opts);
    if (r.status !== 0)
      throw new Error(`${this.name}: \`${command.slice(0, 200)}\` exited ${r.status}:\n${r.stderr.slice(-2000)}`);
    return r.stdout;
  }

  /** This boot's ID, or undefined when the guest does not answer over SSH. */
  async bootId(): Promise<string | undefined> {
    const r = await this.ssh("cat /proc/sys/kernel/random/boot_id", { timeoutMs: 20_000 });
    return r.status === 0 ? r.stdout.trim() : undefined;
  }

  /** Waits until sshd answers and a login works; progress(elapsed s, console line) while it waits. */
  async waitForSsh(
    timeoutMs: number,
    progress?: (seconds: number, line: string) => void,
    notBoot?: string,
  ): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      const seconds = Math.round((Date.now() - t0) / 1000);
      if (!this.running())
        throw new Error(`${this.name}: QEMU is not running (see ${this.qemuLog} and ${this.console})`);
      if (await sshBanner(this.spec.sshPort)) {
        const id = await this.bootId();
        if (id !== undefined && id !== notBoot) return (Date.now() - t0) / 1000;
      }
      if (Date.now() - t0 > timeoutMs) {
        throw new Error(
          `${this.name}: no SSH login on 127.0.0.1:${this.spec.sshPort} within ${timeoutMs / 1000} s; console: ${this.consoleTail()} (${this.console})`,
        );
      }
      progress?.(seconds, this.consoleTail());
      await sleep(1000);
    }
  }

  /** `systemctl reboot` inside, then waits for the next boot's SSH login; returns seconds. */
  async reboot(timeoutMs = 300_000): Promise<number> {
    const before = await this.bootId();
    if (before === undefined) throw new Error(`${this.name}: not reachable over SSH, cannot reboot it`);
    const t0 = Date.now();
    // The connection may drop before ssh sees the exit status: not an error.
    await this.ssh("systemctl reboot", { timeoutMs: 30_000 });
    await this.waitForSsh(timeoutMs, undefined, before);
    return (Date.now() - t0) / 1000;
  }

  /** Stops QEMU by its PID (a `sync` first when the guest answers, so its disk is consistent). */
  async stop(): Promise<void> {
    if (!this.running()) return;
    if (await sshBanner(this.spec.sshPort, 1000)) await this.ssh("sync", { timeoutMs: 15_000 });
    stopDaemon(this.labDir, this.daemon, 10_000);
  }
}

/** Boots guests in parallel, one progress line for all while they boot; returns seconds to SSH each. */
export async function startGuests(
  guests: Guest[],
  image: GuestImage,
  opts: { fresh?: boolean; timeoutMs?: number; out?: NodeJS.WriteStream } = {},
): Promise<number[]> {
  const out = opts.out ?? process.stderr;
  const t0 = Date.now();
  const state = new Map<string, string>();
  for (const g of guests) {
    const already = g.running();
    g.start(image, { fresh: opts.fresh });
    state.set(g.name, already ? "running" : "booting");
  }
  let lastPrint = 0;
  const tty = out.isTTY === true;
  const print = (force = false) => {
    const now = Date.now();
    if (!force && now - lastPrint < (tty ? 500 : 15_000)) return;
    lastPrint = now;
    const line =
      `    booting ${guests.length} guest(s), ${Math.round((now - t0) / 1000)} s: ` +
      guests.map((g) => `${g.name} ${state.get(g.name)}`).join(" | ");
    if (tty) out.write(`\r\x1b[K${line.slice(0, (out.columns ?? 160) - 1)}`);
    else out.write(line + "\n");
  };
  const timers = await Promise.all(
    guests.map(async (g) => {
      const s = await g.waitForSsh(opts.timeoutMs ?? 300_000, (sec, line) => {
        state.set(g.name, `${sec}s ${line.slice(0, 60)}`);
        print();
      });
      state.set(g.name, `ssh up (${Math.round(s)} s)`);
      print(true);
      return s;
    }),
  );
  if (tty) out.write("\n");
  return timers;
}

/**
 * The lab's guest layouts: guest 1 has two PFs, every other guest one. PFs are wired in pairs
 * across guests (guest 1 PF 1 with guest 2 PF 1, guest 1 PF 2 with guest 3 PF 1, ...); a PF
 * left without a partner sends to a port nothing listens on.
 */
export function labGuestSpecs(count: number, sshPort: (i: number) => number, wireBase: number): GuestSpec[] {
  const pfCount = (i: number) => (i === 0 ? 2 : 1);
  const port = (g: number, p: number) => wireBase + g * 4 + p;
  const peer = new Map<string, number>();
  const all: [number, number][] = [];
  for (let p = 0; p < 2; p++) for (let g = 0; g < count; g++) if (p < pfCount(g)) all.push([g, p]);
  // Guest 1's PFs pair with the other guests' first PFs, in order.
  const others = all.filter(([g]) => g !== 0);
  const mine = all.filter(([g]) => g === 0);
  mine.forEach(([g, p], k) => {
    const o = others[k];
    if (!o) return;
    peer.set(`${g}/${p}`, port(o[0], o[1]));
    peer.set(`${o[0]}/${o[1]}`, port(g, p));
  });
  return Array.from({ length: count }, (_, g) => ({
    name: `lab-node-${g + 1}`,
    sshPort: sshPort(g),
    index: g + 1,
    pfs: Array.from({ length: pfCount(g) }, (_, p) => ({
      localPort: port(g, p),
      remotePort: peer.get(`${g}/${p}`) ?? port(g, 3),
    })),
  }));
}
