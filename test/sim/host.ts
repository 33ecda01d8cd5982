// A simulated SR-IOV host for tests: a FUSE sysfs (sysfs_sim.py) plus ip/modprobe/
// systemctl shims, all under one temp directory. start() mounts and waits until the
// filesystem answers; stop() unmounts even when a test failed, and an exit hook
// lazily unmounts anything a crashed run left behind.
import { spawn, spawnSync, ChildProcess } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const REPO_ROOT = path.join(__dirname, "..", "..");
export const SCRIPT_PATH = path.join(REPO_ROOT, "node", "sriov-node.sh");
const SIM_PY = path.join(__dirname, "sysfs_sim.py");
const SHIMS = path.join(__dirname, "shims");
const PYTHON = "/usr/bin/python3";
const INSTALL_HINT = "run .ci/install-node-test-deps.sh (as root) to install fuse3 and python3-fusepy";

export interface SimPf {
  bdf: string;
  name?: string | null;
  vendor?: string;
  device?: string;
  vfDevice?: string;
  class?: string;
  driver?: string | null;
  vfDriver?: string;
  totalVfs?: number;
  numaNode?: number;
  sriov?: boolean;
  numVfs?: number;
  mtu?: number;
  up?: boolean;
  offset?: number;
  stride?: number;
  /** false: no ACS on the path to the PF, so its VFs share the PF's IOMMU group. */
  acs?: boolean;
  /** false: no cable in the port, so the PF never gets carrier. */
  cable?: boolean;
  /** Carrier comes this long after `ip link set up` (default 0; igb 2000, autonegotiation). */
  carrierDelayMs?: number;
  /** Link speed in Mb/s once the link is up (default 10000; igb 1000). */
  speed?: number;
  /** Per-VF settings this PF's driver refuses on top of its driver's rules: { trust: "EOPNOTSUPP" }. */
  vfRefuse?: Record<string, string>;
}

export interface SimFault {
  op: "bind" | "unbind" | "probe" | "numvfs" | "vfconfig";
  pf?: string;
  vf?: number;
  times?: number;
  errno?: string;
}

export interface SimHardware {
  iommu?: boolean;
  /**
   * loaded, loadable (modprobe loads it), missing (no module), broken (on disk, but loading
   * fails, as an unsigned module under Secure Boot does), inert (modprobe succeeds without
   * loading it, as an `install vfio-pci /bin/true` rule does).
   */
  vfio?: "loaded" | "loadable" | "missing" | "broken" | "inert";
  /** The kernel's hostname (proc/sys/kernel/hostname). Default: the directory's name for a
   *  host started in a given directory (the lab names it after the node), else "k8s-node1". */
  hostname?: string;
  /** etc/machine-id (default: a fixed id derived from the hostname). */
  machineId?: string;
  cmdline?: string;
  pfs: SimPf[];
  otherDevices?: { bdf: string; vendor?: string; device?: string; class?: string; driver?: string }[];
  faults?: SimFault[];
}

export interface SimVf {
  index: number;
  bdf: string;
  driver: string | null;
  override: string | null;
  iommuGroup: number | null;
  netdev: string | null;
  trust: boolean;
  spoofchk: boolean;
  vlan: number;
  qos: number;
  minTxRate: number;
  maxTxRate: number;
  linkState: string;
}

export interface SimPfState {
  bdf: string;
  name: string | null;
  driver: string | null;
  sriov: boolean;
  numVfs: number;
  totalVfs: number;
  autoprobe: number;
  up: boolean;
  carrier: boolean;
  mtu: number | null;
  vfs: SimVf[];
}

export interface SimState {
  iommu: boolean;
  drivers: string[];
  pfs: SimPfState[];
  netdevs: string[];
}

export interface SysfsWrite {
  path: string;
  value: string;
  result: string;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

const live = new Set<SimHost>();
process.on("exit", () => {
  for (const h of live) h.forceUnmount();
});

/** Throws a clear error (never skips) when this machine cannot run the simulator. */
export function assertFuseAvailable(): void {
  if (!fs.existsSync("/dev/fuse")) throw new Error(`simulated host needs /dev/fuse (FUSE); ${INSTALL_HINT}`);
  if (!fs.existsSync("/usr/bin/fusermount") && !fs.existsSync("/usr/bin/fusermount3")) {
    throw new Error(`simulated host needs fusermount; ${INSTALL_HINT}`);
  }
  const py = spawnSync(PYTHON, ["-c", "import fusepy"], { encoding: "utf8" });
  if (py.status !== 0)
    throw new Error(`simulated host needs ${PYTHON} with fusepy (${py.stderr.trim()}); ${INSTALL_HINT}`);
}

function isMounted(mnt: string): boolean {
  const mounts = fs.readFileSync("/proc/self/mounts", "utf8");
  return mounts.split("\n").some((l) => l.split(" ")[1] === mnt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class SimHost {
  readonly dir: string;
  readonly sysfs: string;
  readonly proc: string;
  readonly etc: string;
  readonly dev: string;
  readonly bin: string;
  readonly writeLog: string;
  readonly callLog: string;
  readonly systemdState: string;
  /** Extra environment for the script runs (e.g. CARRIER_WAIT). */
  readonly scriptEnv: Record<string, string> = {};
  private child?: ChildProcess;
  private exited = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.sysfs = path.join(dir, "sys");
    this.proc = path.join(dir, "proc");
    this.etc = path.join(dir, "etc");
    this.dev = path.join(dir, "dev");
    this.bin = path.join(dir, "bin");
    this.writeLog = path.join(dir, "sysfs-writes.log");
    this.callLog = path.join(dir, "calls.log");
    this.systemdState = path.join(dir, "systemd");
  }

  /**
   * Mounts a simulated host described by `hw` and waits until it serves requests.
   * `detached`: the simulator outlives this process (the lab); stop it with stopDetached.
   */
  static async start(hw: SimHardware, opts: { dir?: string; detached?: boolean } = {}): Promise<SimHost> {
    assertFuseAvailable();
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "sriov-sim-"));
    const h = new SimHost(dir);
    for (const d of [h.sysfs, h.proc, h.etc, h.dev, h.bin, h.systemdState]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(
      path.join(h.proc, "cmdline"),
      (hw.cmdline ?? "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet") + "\n",
    );
    const hostname = hw.hostname ?? (opts.dir ? path.basename(opts.dir) : "k8s-node1");
    h.setHostname(hostname);
    h.setMachineId(hw.machineId ?? createHash("sha256").update(`machine-id:${hostname}`).digest("hex").slice(0, 32));
    fs.writeFileSync(h.writeLog, "");
    fs.writeFileSync(h.callLog, "");
    const hwFile = path.join(h.dir, "hardware.json");
    fs.writeFileSync(hwFile, JSON.stringify({ ...hw, devRoot: h.dev }, null, 1));
    h.writeShims();
    const logFd = fs.openSync(path.join(h.dir, "sim.log"), "a");
    h.child = spawn(PYTHON, [SIM_PY, hwFile, h.sysfs, h.writeLog], {
      stdio: ["ignore", logFd, logFd],
      detached: opts.detached ?? false,
    });
    fs.closeSync(logFd);
    h.child.on("exit", () => (h.exited = true));
    if (opts.detached) {
      fs.writeFileSync(path.join(h.dir, "sim.pid"), String(h.child.pid));
      h.child.unref();
    } else {
      live.add(h);
    }
    const deadline = Date.now() + 15000;
    while (!fs.existsSync(path.join(h.sysfs, ".sim", "ready"))) {
      if (h.exited || Date.now() > deadline) {
        const log = fs.readFileSync(path.join(h.dir, "sim.log"), "utf8");
        await h.stop();
        throw new Error(
          `simulated host did not come up (${h.exited ? "simulator exited" : "timeout"}): ${log.slice(-2000)}`,
        );
      }
      await sleep(20);
    }
    return h;
  }

  /** A host another process started (detached) in `dir`: read its state and logs. */
  static attach(dir: string): SimHost {
    return new SimHost(dir);
  }

  /** Unmounts a detached host and ends its simulator; keeps its files. */
  static stopDetached(dir: string): void {
    const h = new SimHost(dir);
    if (isMounted(h.sysfs)) {
      const r = spawnSync("fusermount", ["-u", h.sysfs]);
      if (r.status !== 0) spawnSync("umount", ["-l", h.sysfs]);
    }
    const pidFile = path.join(dir, "sim.pid");
    if (fs.existsSync(pidFile)) {
      const pid = Number(fs.readFileSync(pidFile, "utf8"));
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // Already gone with its mount.
      }
      fs.rmSync(pidFile);
    }
  }

  /** bin/<tool>: the shim with this host's paths baked in (one exec per call, as with the real tool). */
  private writeShims(): void {
    const env = [
      `SIM_MNT='${this.sysfs}'`,
      `SIM_CALLS='${this.callLog}'`,
      `SIM_SYSTEMD='${this.systemdState}'`,
      `SIM_ETC='${this.etc}'`,
    ];
    for (const tool of ["ip", "modprobe", "systemctl"]) {
      const body = fs.readFileSync(path.join(SHIMS, tool), "utf8").replace(/^#!.*\n/, "");
      const f = path.join(this.bin, tool);
      fs.writeFileSync(f, `#!/bin/bash\n${env.join("\n")}\n${body}`);
      fs.chmodSync(f, 0o755);
    }
  }

  /** The roots and PATH the script needs to act on this host instead of the real one. */
  env(): Record<string, string> {
    return {
      SYSFS_ROOT: this.sysfs,
      PROC_ROOT: this.proc,
      ETC_ROOT: this.etc,
      DEV_ROOT: this.dev,
      KERNEL_RELEASE: "6.1.0-sim-amd64",
      PATH: `${this.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    };
  }

  /** Runs node/sriov-node.sh (or `script`) against this host. */
  run(args: string[], stdin = "", script = SCRIPT_PATH, env: Record<string, string> = {}): RunResult {
    const r = spawnSync("/bin/bash", [script, ...args], {
      input: stdin,
      encoding: "utf8",
      env: { ...this.env(), ...this.scriptEnv, HOME: this.dir, LANG: "C", ...env },
      timeout: 120000,
    });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * Starts the script without waiting, for runs that overlap (the lock): `pid` is the script's
   * own ($$), `done` resolves when it exits, `started` when it has printed `marker` on stderr.
   */
  spawnRun(
    args: string[],
    stdin = "",
    env: Record<string, string> = {},
    marker?: RegExp,
  ): { pid: number; done: Promise<RunResult>; started: Promise<void> } {
    const child = spawn("/bin/bash", [SCRIPT_PATH, ...args], {
      env: { ...this.env(), ...this.scriptEnv, HOME: this.dir, LANG: "C", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let markerSeen: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (markerSeen = resolve));
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      if (marker === undefined || marker.test(stderr)) markerSeen();
    });
    child.stdin.end(stdin);
    const done = new Promise<RunResult>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => {
        markerSeen();
        resolve({ status: code ?? -1, stdout, stderr });
      });
    });
    return { pid: child.pid as number, done, started };
  }

  /** The kernel's hostname, as the script reads it (proc/sys/kernel/hostname). */
  setHostname(name: string): void {
    fs.mkdirSync(path.join(this.proc, "sys", "kernel"), { recursive: true });
    fs.writeFileSync(path.join(this.proc, "sys", "kernel", "hostname"), name + "\n");
  }

  /** The host's /etc/machine-id. */
  setMachineId(id: string): void {
    fs.writeFileSync(path.join(this.etc, "machine-id"), id + "\n");
  }

  machineId(): string {
    return fs.readFileSync(path.join(this.etc, "machine-id"), "utf8").trim();
  }

  /** Every write the simulated kernel saw, in order, with its result (ok or an errno name). */
  writes(): SysfsWrite[] {
    return fs
      .readFileSync(this.writeLog, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as SysfsWrite);
  }

  /** Every shim call (ip, modprobe, systemctl) in order. */
  calls(): string[] {
    return fs
      .readFileSync(this.callLog, "utf8")
      .split("\n")
      .filter((l) => l !== "");
  }

  /** Shim calls that change something (not show, not dry runs, not is-enabled). */
  mutatingCalls(): string[] {
    return this.calls().filter(
      (c) => !/^ip (-o )?(link|addr) show /.test(c) && !/^modprobe -n/.test(c) && !/^systemctl is-enabled/.test(c),
    );
  }

  state(): SimState {
    return JSON.parse(fs.readFileSync(path.join(this.sysfs, ".sim", "state.json"), "utf8")) as SimState;
  }

  pf(nameOrBdf: string): SimPfState {
    const pf = this.state().pfs.find((p) => p.name === nameOrBdf || p.bdf === nameOrBdf);
    if (!pf) throw new Error(`no simulated PF ${nameOrBdf}`);
    return pf;
  }

  /** Sends a command to the simulator, e.g. "ip addr add 10.0.0.5/24 dev ens1f0v1". */
  control(line: string): void {
    fs.writeFileSync(path.join(this.sysfs, ".sim", "control"), line + "\n");
  }

  /** Makes a fake process hold /dev/vfio/<group> open, as QEMU does for a VM's VF. */
  holdVfioGroup(group: string | number, pid = 4242, comm = "qemu-kvm"): void {
    const fd = path.join(this.proc, String(pid), "fd");
    fs.mkdirSync(fd, { recursive: true });
    fs.writeFileSync(path.join(this.proc, String(pid), "comm"), comm + "\n");
    fs.symlinkSync(path.join(this.dev, "vfio", String(group)), path.join(fd, String(20 + fs.readdirSync(fd).length)));
  }

  releaseVfioGroups(pid = 4242): void {
    fs.rmSync(path.join(this.proc, String(pid)), { recursive: true, force: true });
  }

  /** Synchronous last-resort unmount for the exit hook. */
  forceUnmount(): void {
    if (isMounted(this.sysfs)) spawnSync("fusermount", ["-uz", this.sysfs]);
    if (this.child && !this.exited) this.child.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    if (isMounted(this.sysfs)) {
      const r = spawnSync("fusermount", ["-u", this.sysfs], { encoding: "utf8" });
      if (r.status !== 0) spawnSync("umount", ["-l", this.sysfs]);
    }
    const deadline = Date.now() + 5000;
    while (this.child && !this.exited && Date.now() < deadline) await sleep(20);
    if (this.child && !this.exited) this.child.kill("SIGKILL");
    live.delete(this);
    if (!isMounted(this.sysfs)) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A typical lab host: `count` Intel X710 PFs (i40e, VFs on iavf), IOMMU on. */
export function x710Host(count = 1, over: Partial<SimHardware> = {}, pfOver: Partial<SimPf> = {}): SimHardware {
  const pfs: SimPf[] = [];
  for (let i = 0; i < count; i++) {
    pfs.push({
      bdf: `0000:${(0x10 + i).toString(16).padStart(2, "0")}:00.0`,
      name: `ens${i + 1}f0`,
      vendor: "0x8086",
      device: "0x1572",
      vfDevice: "0x154c",
      driver: "i40e",
      vfDriver: "iavf",
      totalVfs: 64,
      numaNode: i % 2,
      ...pfOver,
    });
  }
  return {
    iommu: true,
    vfio: "loadable",
    cmdline: "BOOT_IMAGE=/vmlinuz-6.1.0 root=/dev/sda1 ro intel_iommu=on iommu=pt",
    pfs,
    ...over,
  };
}

/**
 * A host with one Intel 82576 port as QEMU's `-device igb` shows it: PF on igb, VFs on
 * igbvf, 7 VFs at offset 128 stride 2, 1 Gb/s; the simulator applies igb's per-VF rules.
 */
export function igbHost(pfOver: Partial<SimPf> = {}, over: Partial<SimHardware> = {}): SimHardware {
  return {
    iommu: true,
    vfio: "loadable",
    cmdline: "BOOT_IMAGE=/vmlinuz-6.12.0 root=/dev/sda1 ro intel_iommu=on iommu=pt",
    pfs: [
      {
        bdf: "0000:20:00.0",
        name: "enp32s0",
        vendor: "0x8086",
        device: "0x10c9",
        vfDevice: "0x10ca",
        driver: "igb",
        vfDriver: "igbvf",
        totalVfs: 7,
        offset: 128,
        stride: 2,
        ...pfOver,
      },
    ],
    ...over,
  };
}

/**
 * For a mocha suite: `const start = simHostPerTest()` gives a start(hw) whose host is
 * stopped (and unmounted) after each test, also when the test failed.
 */
export function simHostPerTest(): (hw: SimHardware) => Promise<SimHost> {
  let host: SimHost | undefined;
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });
  return async (hw) => {
    host = await SimHost.start(hw);
    return host;
  };
}
