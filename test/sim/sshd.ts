// A throwaway OpenSSH server on 127.0.0.1 for tests: its own config, host key, user key
// and authorized_keys in a temp dir (the system sshd_config is never read), logging in
// as the user running the tests. stop() kills it and removes the dir.
import { spawn, spawnSync, ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

const SSHD = "/usr/sbin/sshd";
const INSTALL_HINT = "run .ci/install-node-test-deps.sh (as root) to install openssh-server and openssh-client";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function keygen(file: string): void {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "nodeprep-test", "-f", file], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr || r.error?.message}; ${INSTALL_HINT}`);
}

export interface SshResult {
  status: number;
  stdout: string;
  stderr: string;
}

export class TestSshd {
  readonly user = os.userInfo().username;
  private child?: ChildProcess;
  private exited = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get userKeyFile(): string {
    return path.join(this.dir, "user_key");
  }
  get privateKey(): string {
    return fs.readFileSync(this.userKeyFile, "utf8");
  }
  /** The host key as remote.Command's connection.hostKey wants it. */
  get hostKey(): string {
    return fs.readFileSync(path.join(this.dir, "host_key.pub"), "utf8").trim();
  }

  static async start(): Promise<TestSshd> {
    if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} not found; ${INSTALL_HINT}`);
    if (spawnSync("ssh", ["-V"]).error) throw new Error(`ssh client not found; ${INSTALL_HINT}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodeprep-sshd-"));
    const d = new TestSshd(dir, await freePort());
    try {
      await d.launch();
    } catch (e) {
      await d.stop();
      throw e;
    }
    return d;
  }

  private async launch(): Promise<void> {
    const dir = this.dir;
    keygen(path.join(dir, "host_key"));
    keygen(this.userKeyFile);
    fs.copyFileSync(`${this.userKeyFile}.pub`, path.join(dir, "authorized_keys"));
    // Privilege separation needs this directory when sshd runs as root (Debian creates it at boot).
    if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const config = [
      `Port ${this.port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host_key`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      // The temp dir lives under world-writable /tmp, which StrictModes refuses.
      "StrictModes no",
      "UsePAM no",
      "LogLevel ERROR",
      `AllowUsers ${this.user}`,
    ].join("\n");
    fs.writeFileSync(path.join(dir, "sshd_config"), config + "\n");
    const check = spawnSync(SSHD, ["-t", "-f", path.join(dir, "sshd_config")], { encoding: "utf8" });
    if (check.status !== 0) throw new Error(`sshd rejects the test config: ${check.stderr}`);
    fs.writeFileSync(path.join(dir, "known_hosts"), `[127.0.0.1]:${this.port} ${this.hostKey}\n`);

    const log = fs.openSync(path.join(dir, "sshd.log"), "a");
    this.child = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    this.child.on("exit", () => (this.exited = true));
    const deadline = Date.now() + 10000;
    while (!(await canConnect(this.port))) {
      if (this.exited || Date.now() > deadline) {
        throw new Error(`sshd did not start: ${fs.readFileSync(path.join(dir, "sshd.log"), "utf8")}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs `command` as ONE remote command string, exactly as remote.Command sends it. */
  exec(command: string): SshResult {
    const r = spawnSync(
      "ssh",
      [
        "-F",
        "/dev/null",
        "-i",
        this.userKeyFile,
        "-p",
        String(this.port),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${path.join(this.dir, "known_hosts")}`,
        `${this.user}@127.0.0.1`,
        command,
      ],
      { encoding: "utf8", timeout: 120000 },
    );
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  async stop(): Promise<void> {
    if (this.child && !this.exited) {
      this.child.kill("SIGTERM");
      const deadline = Date.now() + 5000;
      while (!this.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (!this.exited) this.child.kill("SIGKILL");
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
