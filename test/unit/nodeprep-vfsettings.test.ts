// Per-VF settings a PF driver refuses (issue 11, item 8): known refusals are refused before
// the first write, rates wait for the PF's carrier, and a refusal at apply time names the
// one setting, the VF, the driver and the cure, before anything later is touched.
import * as assert from "assert";
import { NodeState, renderStateLines } from "../../render/nodeState";
import { parseNodeReport } from "../../render/nodeReport";
import { RunResult, SimHost, igbHost, simHostPerTest, x710Host } from "../sim/host";
import { allOn, nodeState } from "../sim/states";

const IGB = "0000:20:00.0";
const PF0 = "0000:10:00.0";
const PF1 = "0000:11:00.0";

function apply(h: SimHost, state: NodeState): RunResult {
  return h.run(["apply"], renderStateLines(state));
}

function errorLines(r: RunResult): string[] {
  return r.stderr.split("\n").filter((l) => l.includes(": error: "));
}

function includesAll(text: string, ...fragments: string[]): void {
  for (const f of fragments) assert.ok(text.includes(f), `lacks ${JSON.stringify(f)}:\n${text}`);
}

const vfCalls = (h: SimHost) => h.mutatingCalls().filter((c) => / vf \d+ /.test(c));

describe("nodeprep: per-VF settings a driver refuses", function () {
  this.timeout(120000);
  const start = simHostPerTest();

  it("igb + linkState: refused before any write, naming node, PF, VFs, setting, driver and cure", async () => {
    const hw = igbHost();
    hw.pfs.push(x710Host(1).pfs[0]); // another PF in the same state, also left alone
    const h = await start(hw);
    const r = apply(
      h,
      nodeState([
        allOn("enp32s0", 4, "netdevice", { linkState: "enable", trust: true }),
        allOn("ens1f0", 2, "vfio-pci"),
      ]),
    );
    assert.strictEqual(r.status, 2, r.stderr);
    const [refusal, ...rest] = errorLines(r);
    includesAll(
      refusal,
      `PF enp32s0 (${IGB}) on node k8s-node1: driver igb refuses 'state enable' on VFs 0-3 (Operation not supported)`,
      "cure: drop 'state enable' (vfSettings.linkState / the network's linkState) for pool voice",
    );
    assert.match(r.stderr, /^sriov-node\[k8s-node1\]: error: /m, "the node names every line");
    assert.deepStrictEqual(
      rest.map((l) => l.replace(/^.*error: /, "")),
      ["apply refused: 1 problem(s) above; nothing on the PFs was changed"],
    );
    assert.deepStrictEqual(h.writes(), [], "no sysfs write");
    assert.deepStrictEqual(h.mutatingCalls(), [], "no ip/modprobe/systemctl change");
    assert.strictEqual(h.pf("enp32s0").up, false, "not even the PF was brought up");
    assert.strictEqual(h.pf("ens1f0").numVfs, 0);
    assert.strictEqual(r.stdout, "");
  });

  it("igb + a nonzero minTxRate: refused before any write; linkState auto and minTxRate 0 are what igb has", async () => {
    const h = await start(igbHost());
    const r = apply(
      h,
      nodeState([
        {
          name: "enp32s0",
          numVfs: 4,
          vfGroups: [
            { first: 0, last: 1, driver: "netdevice", pool: "sig", linkState: "auto", minTxRate: 0 },
            { first: 2, last: 2, driver: "netdevice", pool: "media", minTxRate: 10, maxTxRate: 100 },
          ],
        },
      ]),
    );
    assert.strictEqual(r.status, 2, r.stderr);
    const errors = errorLines(r);
    assert.strictEqual(errors.length, 2, r.stderr);
    includesAll(
      errors[0],
      `PF enp32s0 (${IGB}) on node k8s-node1: driver igb refuses 'min_tx_rate 10' on VF 2 (Invalid argument)`,
      "cure: drop 'min_tx_rate 10' (vfSettings.minTxRate / the network's minTxRate) for pool media",
    );
    assert.deepStrictEqual(h.writes(), []);
    assert.deepStrictEqual(h.mutatingCalls(), []);

    const ok = apply(
      h,
      nodeState([allOn("enp32s0", 2, "netdevice", { linkState: "auto", minTxRate: 0, spoofchk: false })]),
    );
    assert.strictEqual(ok.status, 0, ok.stderr);
    assert.deepStrictEqual(
      vfCalls(h),
      ["ip link set dev enp32s0 vf 0 spoofchk off", "ip link set dev enp32s0 vf 1 spoofchk off"],
      "auto and 0 are already set: never sent to a driver that refuses them",
    );
  });

  it("igb + maxTxRate: brings the PF up, waits for carrier, sets the rate; a re-run makes zero writes", async () => {
    // The port gets its link 3 s after `ip link set up` (autonegotiation).
    const h = await start(igbHost({ carrierDelayMs: 3000 }));
    const state = nodeState([allOn("enp32s0", 4, "netdevice", { maxTxRate: 100, trust: true, spoofchk: false })]);
    const r = apply(h, state);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`PF enp32s0 \\(${IGB}\\): waiting up to 10s for its link \\(carrier\\) before setting VF rates`),
    );
    const pf = h.pf("enp32s0");
    assert.deepStrictEqual([pf.up, pf.carrier], [true, true]);
    assert.deepStrictEqual(
      pf.vfs.map((v) => [v.maxTxRate, v.minTxRate, v.trust, v.spoofchk]),
      Array(4).fill([100, 0, true, false]),
    );
    const calls = h.mutatingCalls();
    const up = calls.indexOf("ip link set dev enp32s0 up");
    const firstVf = calls.findIndex((c) => / vf \d+ /.test(c));
    assert.ok(up >= 0 && up < firstVf, calls.join("\n"));
    assert.ok(calls.includes("ip link set dev enp32s0 vf 3 max_tx_rate 100"), calls.join("\n"));

    const writes = h.writes().length;
    const before = calls.length;
    const again = apply(h, state);
    assert.strictEqual(again.status, 0, again.stderr);
    assert.match(again.stderr, /apply: no changes \(0 writes\)/);
    assert.doesNotMatch(again.stderr, /waiting up to/, "nothing to set, nothing to wait for");
    assert.strictEqual(h.writes().length, writes);
    assert.deepStrictEqual(h.mutatingCalls().slice(before), []);
    assert.strictEqual(parseNodeReport(again.stdout).apply.writes, 0);
  });

  it("no carrier ever + maxTxRate: a clear message and no VF setting at all on that PF", async () => {
    const h = await start(igbHost({ cable: false }));
    h.scriptEnv.CARRIER_WAIT = "1";
    const r = apply(
      h,
      nodeState([
        {
          name: "enp32s0",
          numVfs: 4,
          vfGroups: [
            { first: 0, last: 1, driver: "netdevice", pool: "sig", trust: true },
            { first: 2, last: 3, driver: "netdevice", pool: "media", maxTxRate: 100 },
          ],
        },
      ]),
    );
    assert.strictEqual(r.status, 3, r.stderr);
    const errors = errorLines(r);
    assert.strictEqual(errors.length, 1, r.stderr);
    includesAll(
      errors[0],
      `PF enp32s0 (${IGB}) on node k8s-node1: the link is down (no carrier after waiting 1s; operstate down)`,
      "VF rates need link (driver igb: 'max_tx_rate 100' on VF 2)",
      "no VF setting on this PF",
      "cure: connect the port (cable, switch port, transceiver), or drop minTxRate/maxTxRate (vfSettings / the network's) for pool media, then re-run apply",
    );
    assert.match(errors[0], /; \d+ change\(s\) made so far/);
    assert.ok(h.mutatingCalls().includes("ip link set dev enp32s0 up"), "the PF was brought up");
    assert.deepStrictEqual(vfCalls(h), [], "not even VF 0's trust: the wait comes before any VF setting");
    assert.deepStrictEqual(
      h.pf("enp32s0").vfs.map((v) => [v.trust, v.maxTxRate]),
      Array(4).fill([false, 0]),
    );
  });

  it("a refusal at apply time names the one setting and the VF; later VFs and PFs are untouched", async () => {
    // A driver that refuses `trust`, which no table knows: only the apply finds out.
    const h = await start(x710Host(2, {}, { vfRefuse: { trust: "EOPNOTSUPP" } }));
    const r = apply(
      h,
      nodeState([
        {
          name: "ens1f0",
          numVfs: 4,
          vfGroups: [
            { first: 0, last: 1, driver: "netdevice", pool: "sig", vlan: 100 },
            { first: 2, last: 3, driver: "vfio-pci", pool: "media", trust: true, spoofchk: false },
          ],
        },
        allOn("ens2f0", 2, "vfio-pci", { trust: true }),
      ]),
    );
    assert.strictEqual(r.status, 3, r.stderr);
    const errors = errorLines(r);
    assert.strictEqual(errors.length, 1, r.stderr);
    includesAll(
      errors[0],
      `PF ens1f0 (${PF0}): driver i40e refused 'trust on' on VF 2 of node k8s-node1 (VF setting change 3 of 6 on this PF): RTNETLINK answers: Operation not supported;`,
      "cure: drop 'trust on' (vfSettings.trust / the network's trust) for pool media, then re-run apply",
    );
    assert.match(errors[0], /; \d+ change\(s\) made so far; /);
    assert.ok(!errors[0].includes("spoofchk"), "only the refused setting is named");

    assert.deepStrictEqual(vfCalls(h), [
      "ip link set dev ens1f0 vf 0 vlan 100",
      "ip link set dev ens1f0 vf 1 vlan 100",
      "ip link set dev ens1f0 vf 2 trust on",
    ]);
    const pf = h.pf("ens1f0");
    assert.deepStrictEqual(
      pf.vfs.map((v) => [v.vlan, v.trust, v.spoofchk]),
      [
        [100, false, true],
        [100, false, true],
        [0, false, true],
        [0, false, true],
      ],
    );
    assert.ok(!h.writes().some((w) => w.path.includes(PF1) || w.path.includes("0000:11:")), JSON.stringify(h.writes()));
    assert.ok(!h.mutatingCalls().some((c) => c.includes("ens2f0")), h.mutatingCalls().join("\n"));
    assert.strictEqual(h.pf("ens2f0").numVfs, 0);
  });

  it("sends the rates in an order the kernel accepts when the new minimum is above the old maximum", async () => {
    // Passes with one command per VF too; guards the split into one setting per command.
    const h = await start(x710Host(1));
    assert.strictEqual(
      apply(h, nodeState([allOn("ens1f0", 2, "netdevice", { minTxRate: 10, maxTxRate: 50 })])).status,
      0,
    );
    const r = apply(h, nodeState([allOn("ens1f0", 2, "netdevice", { minTxRate: 100, maxTxRate: 1000 })]));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(
      h.pf("ens1f0").vfs.map((v) => [v.minTxRate, v.maxTxRate]),
      [
        [100, 1000],
        [100, 1000],
      ],
    );
    const back = apply(h, nodeState([allOn("ens1f0", 2, "netdevice", { minTxRate: 5, maxTxRate: 20 })]));
    assert.strictEqual(back.status, 0, back.stderr);
    assert.deepStrictEqual(
      h.pf("ens1f0").vfs.map((v) => [v.minTxRate, v.maxTxRate]),
      [
        [5, 20],
        [5, 20],
      ],
    );
  });
});
