// The load generator's SIPp command, rendered from the kubecon-demo stack, run for real
// against a local SIPp UAS on 127.0.0.1. Only addresses, ports, load size and file paths
// are swapped; everything else is the argv the VM runs.
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as dgram from "dgram";
import * as fs from "fs";
import * as path from "path";
import {
  probeRun,
  renderLoadtestScript,
  renderSippArgs,
  renderWaitScript,
  SIPP_BINARY,
  sippRunFor,
  sippTimeoutSeconds,
  SippRun,
} from "../../render/sipp";
import { demoModel, requireTool, tempDir, vmNamed } from "../fixtures/voip";

/** A UDP port free on 127.0.0.1 right now. */
async function freeUdpPort(): Promise<number> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(0, "127.0.0.1", () => resolve());
  });
  const { port } = sock.address();
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}

/** True once something holds the UDP port (bind fails with EADDRINUSE). */
async function udpPortTaken(port: number): Promise<boolean> {
  const sock = dgram.createSocket("udp4");
  return new Promise((resolve) => {
    sock.once("error", () => resolve(true));
    sock.bind(port, "127.0.0.1", () => sock.close(() => resolve(false)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Like sleep, for races: the timer does not keep mocha's process alive once the race is won. */
const deadline = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const done = await Promise.race([exited(child).then(() => true), deadline(3000).then(() => false)]);
  if (!done) {
    child.kill("SIGKILL");
    await exited(child);
  }
}

/** SIPp's statistics CSV: ';'-separated, header row first, one row per dump; the last row is the final one. */
function lastStats(file: string): Record<string, string> {
  const rows = fs
    .readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(";"));
  assert.ok(rows.length >= 2, `no statistics rows in ${file}`);
  const header = rows[0];
  const last = rows[rows.length - 1];
  return Object.fromEntries(header.map((h, i) => [h, last[i]]));
}

/** What bash makes of the script's `exec` line: the argv the kernel would get. */
function argvOfExecLine(script: string, marker: string): string[] {
  const line = script
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith(marker));
  assert.ok(line, `no line starting with ${marker}`);
  const words = line.slice(marker.length);
  const r = spawnSync("bash", ["-c", `printf '%s\\0' ${words.replace(/ >\/dev\/null 2>&1; then$/, "")}`], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\0").slice(0, -1);
}

describe("load generator: the SIPp run", () => {
  const model = demoModel();
  const sipp = vmNamed(model, "sipp");
  const production = sippRunFor(sipp, model);

  it("targets the PBX's first SR-IOV address from the loadgen's own, with the stack's load", () => {
    assert.deepEqual(production, {
      remote: { ip: "10.56.217.10", port: 5060 },
      local: { ip: "10.56.217.20", port: 5060 },
      extension: "100",
      rate: 10,
      concurrency: 50,
      calls: 1000,
      holdMs: 5000,
      statsFile: "/var/log/voip-loadtest/stats.csv",
      errorsFile: "/var/log/voip-loadtest/errors.log",
    });
  });

  it("renders the exact SIPp command", () => {
    assert.deepEqual(renderSippArgs(production), [
      "-sn",
      "uac",
      "-s",
      "100",
      "-r",
      "10",
      "-l",
      "50",
      "-m",
      "1000",
      "-d",
      "5000",
      "-i",
      "10.56.217.20",
      "-p",
      "5060",
      "10.56.217.10:5060",
      "-trace_stat",
      "-stf",
      "/var/log/voip-loadtest/stats.csv",
      "-fd",
      "10",
      "-trace_err",
      "-error_file",
      "/var/log/voip-loadtest/errors.log",
      "-timeout",
      "270s",
      "-timeout_error",
      "-nostdin",
    ]);
  });

  it("bounds the run: twice the time the calls need at the rate the concurrency allows, plus a minute", () => {
    assert.equal(sippTimeoutSeconds(production), 2 * (1000 / 10 + 5) + 60);
    // 5 concurrent calls held 5 s cap the rate at 1 call/s whatever -r says.
    assert.equal(sippTimeoutSeconds({ ...production, concurrency: 5 }), 2 * (1000 / 1 + 5) + 60);
    assert.equal(sippTimeoutSeconds({ ...production, holdMs: 0 }), 2 * 100 + 60);
  });

  it("the script runs that argv, quoted so bash gives SIPp the same words", () => {
    const script = renderLoadtestScript(production, "default/pbx");
    assert.deepEqual(argvOfExecLine(script, "exec "), [SIPP_BINARY, ...renderSippArgs(production)]);
    const odd: SippRun = { ...production, extension: "*9#", statsFile: "/tmp/it's here/stats.csv" };
    assert.deepEqual(argvOfExecLine(renderLoadtestScript(odd, "default/pbx"), "exec "), [
      SIPP_BINARY,
      ...renderSippArgs(odd),
    ]);
  });

  it("the wait script probes with one call of the same argv, statistics kept apart", () => {
    const probe = probeRun(production);
    assert.deepEqual(argvOfExecLine(renderWaitScript(production, "default/pbx"), "if "), [
      SIPP_BINARY,
      ...renderSippArgs(probe),
    ]);
    assert.equal(probe.statsFile, "/var/log/voip-loadtest/probe-stats.csv");
  });

  describe("for real, against a SIPp UAS on 127.0.0.1", function () {
    this.timeout(120_000);
    let work: string;
    let uas: ChildProcess | undefined;
    let uasPort: number;

    before(async () => {
      requireTool("sipp", ["-v"]);
      work = tempDir("voip-sipp-");
      uasPort = await freeUdpPort();
      const log = fs.openSync(path.join(work, "uas.log"), "w");
      // Output to a file: a full pipe would stall SIPp mid-test.
      uas = spawn("sipp", ["-sn", "uas", "-i", "127.0.0.1", "-p", String(uasPort), "-nostdin"], {
        cwd: work,
        stdio: ["ignore", log, log],
      });
      fs.closeSync(log);
      for (let i = 0; i < 100 && !(await udpPortTaken(uasPort)); i++) await sleep(50);
      assert.ok(await udpPortTaken(uasPort), `SIPp UAS did not bind 127.0.0.1:${uasPort}`);
    });

    after(async () => {
      await stop(uas);
      if (uas?.pid !== undefined)
        assert.throws(() => process.kill(uas?.pid as number, 0), /ESRCH/, "SIPp UAS still running");
      fs.rmSync(work, { recursive: true, force: true });
    });

    /** The production run with only address, ports, load size and file locations changed. */
    async function localRun(name: string): Promise<SippRun> {
      return {
        ...production,
        remote: { ip: "127.0.0.1", port: uasPort },
        local: { ip: "127.0.0.1", port: await freeUdpPort() },
        rate: 20,
        concurrency: 20,
        calls: 20,
        holdMs: 100,
        statsFile: path.join(work, name, "stats.csv"),
        errorsFile: path.join(work, name, "errors.log"),
      };
    }

    async function runScript(script: string, name: string): Promise<number | null> {
      const file = path.join(work, `${name}.sh`);
      fs.writeFileSync(file, script, { mode: 0o755 });
      const log = fs.openSync(path.join(work, `${name}.log`), "w");
      const child = spawn("bash", [file], { cwd: work, stdio: ["ignore", log, log] });
      fs.closeSync(log);
      try {
        const code = await Promise.race([exited(child), deadline(90_000).then(() => "timeout" as const)]);
        assert.notEqual(code, "timeout", `${name} did not finish in 90 s`);
        return code as number | null;
      } finally {
        await stop(child);
      }
    }

    it("the local run differs from the production argv only in what was swapped", async () => {
      const local = await localRun("diff");
      const a = renderSippArgs(production);
      const b = renderSippArgs(local);
      assert.equal(a.length, b.length);
      // Each changed word named by its option; the bare word is the target.
      const changed = a
        .map((w, i) => (w === b[i] ? undefined : a[i - 1].startsWith("-") ? a[i - 1] : "target"))
        .filter((x) => x !== undefined);
      assert.deepEqual(changed, ["-r", "-l", "-m", "-d", "-i", "-p", "target", "-stf", "-error_file", "-timeout"]);
    });

    it("the rendered voip-loadtest script completes 20 calls, exit 0, none failed", async () => {
      const run = await localRun("loadtest");
      const code = await runScript(renderLoadtestScript(run, "local/uas"), "loadtest");
      const log = fs.readFileSync(path.join(work, "loadtest.log"), "utf8");
      assert.equal(code, 0, `SIPp exited ${code}:\n${log.slice(-2000)}`);
      const stats = lastStats(run.statsFile);
      assert.equal(Number(stats["SuccessfulCall(C)"]), run.calls, JSON.stringify(stats));
      assert.equal(Number(stats["FailedCall(C)"]), 0, JSON.stringify(stats));
      assert.equal(Number(stats["OutgoingCall(C)"]), run.calls);
    });

    it("a second run replaces the statistics of the first", async () => {
      const run = { ...(await localRun("loadtest")), calls: 5 };
      assert.equal(await runScript(renderLoadtestScript(run, "local/uas"), "loadtest-again"), 0);
      const rows = fs.readFileSync(run.statsFile, "utf8").trim().split("\n");
      assert.equal(Number(lastStats(run.statsFile)["SuccessfulCall(C)"]), 5);
      assert.ok(rows.filter((r) => r.startsWith("StartTime")).length === 1, "statistics of two runs in one file");
    });

    it("the wait script returns as soon as the PBX answers one call", async () => {
      const run = await localRun("wait");
      assert.equal(await runScript(renderWaitScript(run, "local/uas"), "wait"), 0);
      assert.equal(Number(lastStats(probeRun(run).statsFile)["SuccessfulCall(C)"]), 1);
    });
  });
});
