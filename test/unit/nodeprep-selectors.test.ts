// NIC selectors in sriov-node.sh, against a simulated host with two dual-port E810s and an X710:
// a selector is resolved on the node before any write, the matched PFs are applied, reported
// and saved for the boot unit; no match or too many is refused with nothing changed.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseNodeReport } from "../../render/nodeReport";
import { NodeState, PfSelector, PfState, renderStateLines } from "../../render/nodeState";
import { RunResult, SimHardware, SimHost, SimPf, simHostPerTest } from "../sim/host";
import { allOn, nodeState, TEST_OWNER } from "../sim/states";

const E810 = { vendor: "0x8086", device: "0x159b", vfDevice: "0x1889", driver: "ice", vfDriver: "iavf", totalVfs: 64 };
const X710 = { vendor: "0x8086", device: "0x1572", vfDevice: "0x154c", driver: "i40e", vfDriver: "iavf", totalVfs: 64 };

/** Two dual-port E810 NICs (3b:00.0/1 and 5e:00.0/1) and one X710 port (10:00.0). */
function fleetHost(): SimHardware {
  const pfs: SimPf[] = [
    { bdf: "0000:10:00.0", name: "eno1", ...X710 },
    // As on an E810: each port's 64 VFs in their own range of routing IDs on the NIC's bus.
    { bdf: "0000:3b:00.0", name: "ens1f0", ...E810, numaNode: 0, offset: 16, stride: 1 },
    { bdf: "0000:3b:00.1", name: "ens1f1", ...E810, numaNode: 0, offset: 79, stride: 1 },
    { bdf: "0000:5e:00.0", name: "ens2f0", ...E810, numaNode: 1, offset: 16, stride: 1 },
    { bdf: "0000:5e:00.1", name: "ens2f1", ...E810, numaNode: 1, offset: 79, stride: 1 },
  ];
  return { iommu: true, vfio: "loadable", cmdline: "BOOT_IMAGE=/vmlinuz ro intel_iommu=on iommu=pt", pfs };
}

function bySelector(
  selector: Omit<PfSelector, "where" | "count"> & { count?: number },
  numVfs = 4,
  where = "profiles.r740.physicalFunctions[0]",
): PfState {
  return {
    selector: { count: 1, where, ...selector },
    numVfs,
    vfGroups: [{ first: 0, last: numVfs - 1, driver: "vfio-pci", pool: "voice" }],
  };
}

describe("nodeprep: NIC selectors in sriov-node.sh", function () {
  this.timeout(120000);
  const start = simHostPerTest();
  const apply = (h: SimHost, state: NodeState): RunResult => h.run(["apply"], renderStateLines(state));

  function assertRefusedUntouched(r: RunResult, h: SimHost): void {
    assert.strictEqual(r.status, 2, `expected exit 2, got ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, /nothing (on the PFs )?was changed/);
    assert.match(r.stderr, /cure: /);
    assert.deepStrictEqual(h.writes(), [], "a refused apply writes nothing to sysfs");
    assert.deepStrictEqual(h.mutatingCalls(), [], "a refused apply changes nothing with ip, modprobe or systemctl");
    assert.strictEqual(r.stdout, "", "a refused apply prints no report");
    assert.ok(!fs.existsSync(path.join(h.etc, "kubevirt-sriov")), "and leaves no /etc/kubevirt-sriov behind");
    assert.ok(h.state().pfs.every((p) => p.numVfs === 0));
  }

  it("matches the first port of each E810 by vendor, device and port, applies both, reports them and saves them for the boot unit", async () => {
    const h = await start(fleetHost());
    const state = nodeState([bySelector({ vendor: "8086", device: "159b", port: 0, count: 2 }), allOn("eno1", 2)], {
      profile: "r740",
    });
    const r = apply(h, state);
    assert.strictEqual(r.status, 0, r.stderr);
    const numVfs = Object.fromEntries(h.state().pfs.map((p) => [p.bdf, p.numVfs]));
    assert.deepStrictEqual(numVfs, {
      "0000:10:00.0": 2,
      "0000:3b:00.0": 4,
      "0000:3b:00.1": 0,
      "0000:5e:00.0": 4,
      "0000:5e:00.1": 0,
    });
    assert.deepStrictEqual(
      h.pf("ens2f0").vfs.map((v) => v.driver),
      Array(4).fill("vfio-pci"),
      "the selector's groups apply to every PF it matched",
    );
    assert.ok(!h.writes().some((w) => /0000:(3b|5e):00\.1\//.test(w.path)), "the second ports are not touched");

    const rep = parseNodeReport(r.stdout);
    assert.deepStrictEqual(rep.resolved, [
      { entry: "profiles.r740.physicalFunctions[0]", pciAddress: "0000:3b:00.0", name: "ens1f0" },
      { entry: "profiles.r740.physicalFunctions[0]", pciAddress: "0000:5e:00.0", name: "ens2f0" },
    ]);
    assert.match(r.stderr, /NIC selector profiles\.r740\.physicalFunctions\[0\] matched PF ens1f0 \(0000:3b:00\.0\)/);

    // The boot unit gets the PFs matched now, by address: not the selector, which could match others later.
    const saved = fs.readFileSync(path.join(h.etc, "kubevirt-sriov/state", TEST_OWNER), "utf8");
    assert.ok(!/^select /m.test(saved), saved);
    assert.match(saved, /^pf - 0000:3b:00\.0 4 -$/m);
    assert.match(saved, /^pf - 0000:5e:00\.0 4 -$/m);
    assert.match(saved, /^pf eno1 - 2 -$/m);
    assert.deepStrictEqual(
      saved
        .split("\n")
        .filter((l) => l.startsWith("group "))
        .map((l) => l.split(" ")[1]),
      ["0", "1", "2"],
      "one group per matched PF, renumbered",
    );

    // Same state again: the same PFs, zero writes.
    const again = apply(h, state);
    assert.strictEqual(again.status, 0, again.stderr);
    assert.strictEqual(parseNodeReport(again.stdout).apply.writes, 0, again.stderr);

    // After a reboot, the installed copy recreates exactly those VFs from the saved state.
    for (const bdf of ["0000:3b:00.0", "0000:5e:00.0"])
      fs.writeFileSync(path.join(h.sysfs, "bus/pci/devices", bdf, "sriov_numvfs"), "0\n");
    const boot = h.run(["apply-from-state"], "", path.join(h.etc, "kubevirt-sriov/sriov-node.sh"));
    assert.strictEqual(boot.status, 0, boot.stderr);
    assert.deepStrictEqual(
      ["ens1f0", "ens2f0", "ens1f1"].map((n) => h.pf(n).numVfs),
      [4, 4, 0],
    );

    // Revert restores every PF the selector claimed.
    const rev = h.run(["revert"], renderStateLines(state));
    assert.strictEqual(rev.status, 0, rev.stderr);
    assert.ok(h.state().pfs.every((p) => p.numVfs === 0));
  });

  it("matches by name pattern and port; a port counts the NIC's network functions", async () => {
    const h = await start(fleetHost());
    const r = apply(h, nodeState([bySelector({ pfName: "ens2*", port: 1 }, 2, "nodes[3].physicalFunctions[1]")]));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(parseNodeReport(r.stdout).resolved, [
      { entry: "nodes[3].physicalFunctions[1]", pciAddress: "0000:5e:00.1", name: "ens2f1" },
    ]);
    assert.strictEqual(h.pf("ens2f1").numVfs, 2);
  });

  it("no match: refused before any write, naming node, profile and selector, and listing the node's PFs", async () => {
    const h = await start(fleetHost());
    const r = apply(h, nodeState([bySelector({ vendor: "15b3", device: "101d" })], { profile: "r740" }));
    assertRefusedUntouched(r, h);
    assert.match(
      r.stderr,
      /error: node k8s-node1 \(profile r740\): the NIC selector profiles\.r740\.physicalFunctions\[0\] \(vendor 15b3, device 101d\) matches 0 PF\(s\) \(none\), 1 expected; SR-IOV PFs on this node: eno1 \(0000:10:00\.0, 8086:1572, port 0\), ens1f0 \(0000:3b:00\.0, 8086:159b, port 0\), ens1f1 \(0000:3b:00\.1, 8086:159b, port 1\), /,
    );
    assert.match(
      r.stderr,
      /cure: fix the selector \(lspci -nn shows vendor:device; a port counts from 0 on each NIC\), or give node k8s-node1 its own physicalFunctions/,
    );
    assert.match(
      r.stderr,
      /apply refused: 1 NIC selector\(s\) above do not match as the stack config expects; nothing was changed/,
    );
  });

  it("more PFs than expected: refused before any write, naming what it matched and how to narrow it", async () => {
    const h = await start(fleetHost());
    const r = apply(
      h,
      nodeState(
        [
          bySelector({ vendor: "8086", device: "159b", port: 0 }),
          bySelector({ vendor: "8086", device: "1572" }, 2, "profiles.r740.physicalFunctions[1]"),
        ],
        { profile: "r740" },
      ),
    );
    assertRefusedUntouched(r, h);
    assert.match(
      r.stderr,
      /the NIC selector profiles\.r740\.physicalFunctions\[0\] \(vendor 8086, device 159b, port 0\) matches 2 PF\(s\) \(ens1f0 \(0000:3b:00\.0, 8086:159b, port 0\), ens2f0 \(0000:5e:00\.0, 8086:159b, port 0\)\), 1 expected/,
    );
    assert.match(r.stderr, /narrow it down \(device, name, port\) or set its count to 2 if every one is meant/);
    assert.ok(!/physicalFunctions\[1\] \(/.test(r.stderr), "the selector that matches as expected is not reported");
  });

  it("a PF listed by name and also matched by a selector is refused as listed twice, naming the selector", async () => {
    const h = await start(fleetHost());
    const r = apply(h, nodeState([allOn("ens1f0", 2), bySelector({ pfName: "ens1f0" })]));
    assertRefusedUntouched(r, h);
    assert.match(
      r.stderr,
      /PF ens1f0 \(0000:3b:00\.0, matched by profiles\.r740\.physicalFunctions\[0\]\) is listed twice in the desired state; cure: list each PF once: narrow the NIC selector/,
    );
  });

  it("a state with a malformed select line is bad input (64), not a refusal", async () => {
    const h = await start(fleetHost());
    const bad = renderStateLines(nodeState([bySelector({ vendor: "8086" })])).replace(/^select 8086 /m, "select 80z6 ");
    const r = h.run(["apply"], bad);
    assert.strictEqual(r.status, 64, r.stderr);
    assert.match(r.stderr, /bad token '80z6'/);
  });
});
