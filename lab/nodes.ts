// The lab's simulated SR-IOV nodes: per node a FUSE sysfs that enforces the kernel's rules
// (test/sim) and a real sshd on loopback. sshd's SetEnv points the node script at the
// simulated roots, so the program sends exactly the command it sends to a real node.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { SimHardware, SimHost } from "../test/sim/host";
import { canConnect, daemonPid, logFile, startDaemon, stopDaemon, waitFor } from "./processes";

export interface LabNodeSpec {
  name: string;
  sshPort: number;
  hardware: SimHardware;
}

/** Each lab node's NICs: what the lab stack configures, plus PFs it must never touch. */
export function labHardware(index: number): SimHardware {
  // offset: where the PF's first VF sits (routing ID + offset), as the NIC's SR-IOV
  // capability says; the two ports of one NIC must not share VF addresses (X710: 16 and 79).
  const pf = (bdf: string, name: string, numaNode: number, offset: number, numVfs = 0) => ({
    bdf,
    name,
    vendor: "0x8086",
    device: "0x1572",
    vfDevice: "0x154c",
    driver: "i40e",
    vfDriver: "iavf",
    totalVfs: 64,
    numaNode,
    numVfs,
    offset,
  });
  const pfs = [
    pf("0000:3b:00.0", "ens1f0", 0, 16, index === 1 ? 2 : 0), // lab-node-2 starts with 2 VFs: revert must restore them
    pf("0000:3b:00.1", "ens1f1", 0, 79),
    pf("0000:5e:00.0", "ens2f0", 1, 16, 1), // not in the config: never touched
  ];
  return {
    iommu: true,
    vfio: "loadable",
    cmdline: "BOOT_IMAGE=/vmlinuz-6.1.0 root=/dev/sda1 ro intel_iommu=on iommu=pt",
    pfs,
  };
}

export class LabNode {
  readonly dir: string;
  readonly sshDir: string;

  constructor(
    readonly labDir: string,
    readonly spec: LabNodeSpec,
  ) {
    this.dir = path.join(labDir, "nodes", spec.name);
    this.sshDir = path.join(labDir, "nodes", `${spec.name}.ssh`);
  }

  get host(): SimHost {
    return SimHost.attach(this.dir);
  }

  private get daemon(): string {
    return `sshd-${this.spec.name}`;
  }

  /** Mounts the simulated sysfs (first start only: a restart keeps the node's state). */
  async startHardware(): Promise<void> {
    if (fs.existsSync(path.join(this.dir, "sys", ".sim", "ready"))) return;
    fs.mkdirSync(path.dirname(this.dir), { recursive: true });
    fs.mkdirSync(this.dir, { recursive: true });
    await SimHost.start(this.spec.hardware, { dir: this.dir, detached: true });
  }

  private writeSshdConfig(authorizedKeys: string): string {
    fs.mkdirSync(this.sshDir, { recursive: true });
    const hostKey = path.join(this.sshDir, "ssh_host_ed25519_key");
    if (!fs.existsSync(hostKey)) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
    const env = this.host.env();
    const setEnv = Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    const conf = path.join(this.sshDir, "sshd_config");
    fs.writeFileSync(
      conf,
      [
        `Port ${this.spec.sshPort}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        `PidFile ${path.join(this.sshDir, "sshd.pid")}`,
        "LogLevel VERBOSE",
        // The node script reads its roots from the environment: here, the simulated host.
        `SetEnv ${setEnv}`,
        "",
      ].join("\n"),
    );
    return conf;
  }

  async startSsh(authorizedKeys: string): Promise<void> {
    const conf = this.writeSshdConfig(authorizedKeys);
    fs.mkdirSync("/run/sshd", { recursive: true });
    const sshd = fs.existsSync("/usr/sbin/sshd") ? "/usr/sbin/sshd" : "sshd";
    startDaemon(this.labDir, this.daemon, sshd, ["-D", "-e", "-f", conf]);
    await waitFor(
      `sshd of ${this.spec.name} on 127.0.0.1:${this.spec.sshPort}`,
      () => canConnect(this.spec.sshPort),
      15_000,
    );
  }

  stopSsh(): void {
    stopDaemon(this.labDir, this.daemon, 5_000);
  }

  sshRunning(): boolean {
    return daemonPid(this.labDir, this.daemon) !== undefined;
  }

  /** The node's public host key line, as `ssh-keyscan` would print it. */
  hostKey(): string {
    return fs
      .readFileSync(path.join(this.sshDir, "ssh_host_ed25519_key.pub"), "utf8")
      .trim()
      .split(" ")
      .slice(0, 2)
      .join(" ");
  }

  /** SSH sessions this node's sshd accepted so far. */
  sessions(): number {
    const log = logFile(this.labDir, this.daemon);
    if (!fs.existsSync(log)) return 0;
    return fs
      .readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => /Accepted publickey for /.test(l)).length;
  }

  stop(): void {
    this.stopSsh();
    SimHost.stopDetached(this.dir);
  }
}
