// One run at a time on a host: apply, revert and the boot unit hold an flock on
// /etc/kubevirt-sriov/lock for their whole run, wait for it (LOCK_WAIT) and name its holder.
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { NodeState, renderStateLines } from "../../render/nodeState";
import { igbHost, SimHost, simHostPerTest, x710Host } from "../sim/host";
import { allOn, nodeState, TEST_OWNER } from "../sim/states";

const SINCE = "since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ";

describe("nodeprep: one run at a time (the lock)", function () {
  this.timeout(120000);
  const start = simHostPerTest();
  const holders: ChildProcess[] = [];
  afterEach(() => {
    for (const p of holders.splice(0)) p.kill("SIGKILL");
  });

  const lockFile = (h: SimHost) => path.join(h.etc, "kubevirt-sriov", "lock");
  // igb sets VF rates only with carrier, which comes 3 s after apply brings the PF up: the
  // apply holds the lock while it waits (and says so on stderr).
  const slow: NodeState = nodeState([
    {
      name: "enp32s0",
      numVfs: 2,
      vfGroups: [{ first: 0, last: 1, driver: "vfio-pci", pool: "voice", maxTxRate: 100 }],
    },
  ]);
  const WAITING_FOR_LINK = /waiting up to \d+s for its link/;

  /** Another process holding the lock (as a run does), with `line` as its holder record. */
  async function holdLock(file: string, line: string): Promise<ChildProcess> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const p = spawn(
      "/bin/bash",
      ["-c", 'exec 9>>"$1"; flock 9; printf "%s\\n" "$2" >"$1"; echo locked; exec sleep 60', "holder", file, line],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    holders.push(p);
    await new Promise<void>((resolve) => p.stdout?.on("data", () => resolve()));
    return p;
  }

  it("a second apply waits for the first, naming it, then finds nothing left to do", async () => {
    const h = await start(igbHost({ carrierDelayMs: 3000 }));
    const first = h.spawnRun(["apply"], renderStateLines(slow), {}, WAITING_FOR_LINK);
    await first.started;
    const second = h.spawnRun(["apply"], renderStateLines(slow), { LOCK_WAIT: "60" });
    const [a, b] = await Promise.all([first.done, second.done]);
    assert.strictEqual(a.status, 0, a.stderr);
    assert.strictEqual(b.status, 0, b.stderr);
    assert.match(
      b.stderr,
      new RegExp(`waiting up to 60s for ${lockFile(h)}, held by pid ${first.pid} apply for ${TEST_OWNER} ${SINCE}`),
    );
    assert.match(b.stderr, /apply: no changes \(0 writes\)/, "the second apply ran after the first, not beside it");
    assert.ok(
      h.writes().every((w) => w.result === "ok"),
      JSON.stringify(h.writes().filter((w) => w.result !== "ok")),
    );
  });

  it("gives up after LOCK_WAIT with a message naming the holder (pid, verb, owner, start), before any write", async () => {
    const h = await start(igbHost({ cable: false }));
    const first = h.spawnRun(["apply"], renderStateLines(slow), { CARRIER_WAIT: "6" }, WAITING_FOR_LINK);
    await first.started;
    const writes = h.writes().length;
    const calls = h.mutatingCalls().length;
    const r = h.run(
      ["apply"],
      renderStateLines(nodeState([allOn("enp32s0", 4)], { owner: "kubevirt-sriov/prod/k8s-node1" })),
      undefined,
      { LOCK_WAIT: "1" },
    );
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `error: another run holds ${lockFile(h)}: pid ${first.pid} apply for ${TEST_OWNER} ${SINCE}; waited 1s; nothing was changed; ` +
          `cure: let that run finish \\(the boot unit kubevirt-sriov-vfs\\.service, or another stack's pulumi up or destroy on this host\\), then re-run; ` +
          `if it hangs, look at it with: ps -o pid,etime,args -p ${first.pid}$`,
        "m",
      ),
    );
    assert.strictEqual(h.writes().length, writes, "no sysfs write by the run that gave up");
    assert.strictEqual(h.mutatingCalls().length, calls);
    assert.strictEqual((await first.done).status, 3, "the first run fails on its own (no carrier)");
  });

  it("a revert during an apply (pulumi destroy while the boot unit runs) waits, then undoes all of it", async () => {
    const h = await start(igbHost({ carrierDelayMs: 3000 }));
    const applying = h.spawnRun(["apply"], renderStateLines(slow), {}, WAITING_FOR_LINK);
    await applying.started;
    const reverting = h.spawnRun(["revert"], renderStateLines(slow), { LOCK_WAIT: "60" });
    const [a, r] = await Promise.all([applying.done, reverting.done]);
    assert.strictEqual(a.status, 0, a.stderr);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /waiting up to 60s for .*, held by pid \d+ apply for/);
    const pf = h.pf("enp32s0");
    assert.deepStrictEqual([pf.numVfs, pf.autoprobe, pf.up], [0, 1, false], "back as the host came");
    assert.ok(!fs.existsSync(path.join(h.etc, "kubevirt-sriov")), "no state, record or lock left");
    assert.ok(!fs.existsSync(path.join(h.etc, "systemd/system/kubevirt-sriov-vfs.service")));
  });

  it("revert and the boot unit take the lock too", async () => {
    const h = await start(x710Host(1));
    assert.strictEqual(h.run(["apply"], renderStateLines(nodeState([allOn("ens1f0", 2)]))).status, 0);
    await holdLock(lockFile(h), "pid 4711 apply for kubevirt-sriov/prod/k8s-node1 since 2030-01-01T00:00:00Z");
    const writes = h.writes().length;
    for (const [verb, stdin] of [
      ["revert", renderStateLines(nodeState([allOn("ens1f0", 2)]))],
      ["apply-from-state", ""],
    ]) {
      const r = h.run([verb], stdin, undefined, { LOCK_WAIT: "1" });
      assert.strictEqual(r.status, 2, `${verb}: ${r.stderr}`);
      assert.ok(
        r.stderr.includes("another run holds") &&
          r.stderr.includes("pid 4711 apply for kubevirt-sriov/prod/k8s-node1 since 2030-01-01T00:00:00Z; waited 1s"),
        `${verb}: ${r.stderr}`,
      );
    }
    assert.strictEqual(h.writes().length, writes);
    assert.strictEqual(h.pf("ens1f0").numVfs, 2);
  });

  it("a waiter whose lock file the last revert removed locks the new one (and waits for its holder)", async () => {
    const h = await start(x710Host(1));
    const file = lockFile(h);
    const old = await holdLock(file, "pid 1 revert for kubevirt-sriov/test/k8s-node1 since 2030-01-01T00:00:00Z");
    const waiter = h.spawnRun(
      ["apply"],
      renderStateLines(nodeState([allOn("ens1f0", 2)])),
      { LOCK_WAIT: "4" },
      /waiting up to 4s/,
    );
    await waiter.started;
    // The last owner's revert removes the directory with the lock file; a run that starts
    // then creates and locks a new one; only then does the old holder end.
    fs.rmSync(path.dirname(file), { recursive: true });
    await holdLock(file, "pid 4712 apply for kubevirt-sriov/prod/k8s-node1 since 2030-01-01T00:00:01Z");
    old.kill("SIGKILL");
    const r = await waiter.done;
    assert.strictEqual(r.status, 2, `the waiter must not run beside the new holder: ${r.stderr}`);
    assert.match(
      r.stderr,
      /another run holds .*: pid 4712 apply for kubevirt-sriov\/prod\/k8s-node1 since 2030-01-01T00:00:01Z; waited 4s/,
    );
    assert.deepStrictEqual(h.writes(), []);
  });
});
