// Long-running lab processes: started detached (they outlive `npm run lab`), one pid file and
// one log each under <lab>/run and <lab>/logs, stopped by pid.
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

const pidFile = (labDir: string, name: string) => path.join(labDir, "run", `${name}.pid`);
export const logFile = (labDir: string, name: string) => path.join(labDir, "logs", `${name}.log`);

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A daemon started by this very process and already gone stays a zombie until Node reaps it,
  // which it cannot while stopDaemon blocks the thread: a zombie is not alive.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

export function daemonPid(labDir: string, name: string): number | undefined {
  const f = pidFile(labDir, name);
  if (!fs.existsSync(f)) return undefined;
  const pid = Number(fs.readFileSync(f, "utf8"));
  return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
}

export function startDaemon(
  labDir: string,
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): number {
  const running = daemonPid(labDir, name);
  if (running !== undefined) return running;
  fs.mkdirSync(path.join(labDir, "run"), { recursive: true });
  fs.mkdirSync(path.join(labDir, "logs"), { recursive: true });
  const out = fs.openSync(logFile(labDir, name), "a");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", out, out], env });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  child.unref();
  fs.writeFileSync(pidFile(labDir, name), String(child.pid));
  return child.pid;
}

/** SIGTERM, then SIGKILL after a grace period; returns once the process is gone. */
export function stopDaemon(labDir: string, name: string, graceMs = 15_000): void {
  const pid = daemonPid(labDir, name);
  if (pid !== undefined) {
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  fs.rmSync(pidFile(labDir, name), { force: true });
}

export async function waitFor(what: string, ready: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}
