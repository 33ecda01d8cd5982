// Several owners (<project>/<stack>/<node entry>) on one host: each reverts only what it
// prepared, a PF has one owner, the boot unit serves every owner and goes with the last one;
// and revert gives back the PF's link (MTU, admin state) as the first apply found it.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { NodeState, renderStateLines } from "../../render/nodeState";
import { parseNodeReport } from "../../render/nodeReport";
import { RunResult, SimHost, simHostPerTest, x710Host } from "../sim/host";
import { allOn, nodeState, TEST_OWNER } from "../sim/states";

const PF0 = "0000:10:00.0";
const PF1 = "0000:11:00.0";
const UNIT = "kubevirt-sriov-vfs.service";
const PROD = "kubevirt-sriov/prod/k8s-node1";

describe("nodeprep: owners on one host", function () {
  this.timeout(120000);
  const start = simHostPerTest();

  const run = (h: SimHost, verb: string, state?: NodeState, ...args: string[]): RunResult =>
    h.run([verb, ...args], state ? renderStateLines(state) : "");
  const ok = (r: RunResult, what: string): RunResult => {
    assert.strictEqual(r.status, 0, `${what}: ${r.stderr}`);
    return r;
  };
  const stateDir = (h: SimHost) => path.join(h.etc, "kubevirt-sriov");
  const unitFile = (h: SimHost) => path.join(h.etc, "systemd/system", UNIT);
  const record = (h: SimHost, bdf: string) => fs.readFileSync(path.join(stateDir(h), "original", bdf), "utf8");
  const reboot = (h: SimHost) => {
    for (const pf of h.state().pfs) {
      fs.writeFileSync(path.join(h.sysfs, "bus/pci/devices", pf.bdf, "sriov_numvfs"), "0\n");
      fs.writeFileSync(path.join(h.sysfs, "bus/pci/devices", pf.bdf, "sriov_drivers_autoprobe"), "1\n");
    }
  };

  it("two stacks, one PF each: a revert restores only its own PF, the boot unit stays for the other and goes with the last", async () => {
    const h = await start(x710Host(2, {}, { numVfs: 1 })); // each PF came with 1 VF
    const test = nodeState([allOn("ens1f0", 4)]);
    const prod = nodeState([allOn("ens2f0", 6)], { owner: PROD });
    ok(run(h, "apply", test), "apply test");
    ok(run(h, "apply", prod), "apply prod");
    assert.match(record(h, PF0), new RegExp(`^owner ${TEST_OWNER}$`, "m"));
    assert.match(record(h, PF1), new RegExp(`^owner ${PROD}$`, "m"));
    assert.deepStrictEqual(fs.readdirSync(path.join(stateDir(h), "state/kubevirt-sriov")).sort(), ["prod", "test"]);

    const r = ok(run(h, "revert", test), "revert test");
    assert.deepStrictEqual([h.pf("ens1f0").numVfs, h.pf("ens2f0").numVfs], [1, 6], "prod's VFs are untouched");
    assert.deepStrictEqual(
      h.pf("ens2f0").vfs.map((v) => v.driver),
      Array(6).fill("vfio-pci"),
    );
    assert.ok(!fs.existsSync(path.join(stateDir(h), "original", PF0)), "test's record is gone");
    assert.ok(fs.existsSync(path.join(stateDir(h), "original", PF1)), "prod's record stays");
    assert.ok(!fs.existsSync(path.join(stateDir(h), "state", TEST_OWNER)));
    assert.ok(fs.existsSync(path.join(stateDir(h), "state", PROD)));
    assert.ok(
      fs.existsSync(unitFile(h)) && fs.existsSync(path.join(h.systemdState, "enabled", UNIT)),
      "the boot unit stays for prod",
    );
    assert.ok(!h.mutatingCalls().includes(`systemctl disable ${UNIT}`));
    assert.match(r.stderr, new RegExp(`the boot unit and .* stay for ${PROD}`));
    assert.deepStrictEqual(JSON.parse(r.stdout.trim().split("\n").pop() as string).revert.restoredPfs, [PF0]);

    // A reboot: the boot unit recreates prod's VFs, and only those.
    reboot(h);
    const boot = ok(h.run(["apply-from-state"], "", path.join(stateDir(h), "sriov-node.sh")), "apply-from-state");
    assert.deepStrictEqual([h.pf("ens1f0").numVfs, h.pf("ens2f0").numVfs], [0, 6]);
    assert.strictEqual(parseNodeReport(boot.stdout).owner, PROD);

    ok(run(h, "revert", prod), "revert prod");
    assert.deepStrictEqual([h.pf("ens1f0").numVfs, h.pf("ens2f0").numVfs], [0, 1]);
    assert.ok(!fs.existsSync(stateDir(h)), "the last owner's revert removes the state directory");
    assert.ok(!fs.existsSync(unitFile(h)));
    assert.ok(h.mutatingCalls().includes(`systemctl disable ${UNIT}`));
  });

  it("the boot unit re-applies every owner's state", async () => {
    const h = await start(x710Host(2));
    ok(run(h, "apply", nodeState([allOn("ens1f0", 4)])), "apply test");
    ok(run(h, "apply", nodeState([allOn("ens2f0", 3, "netdevice")], { owner: PROD })), "apply prod");
    reboot(h);
    const r = ok(h.run(["apply-from-state"], "", path.join(stateDir(h), "sriov-node.sh")), "apply-from-state");
    assert.deepStrictEqual(
      h.pf("ens1f0").vfs.map((v) => v.driver),
      Array(4).fill("vfio-pci"),
    );
    assert.deepStrictEqual(
      h.pf("ens2f0").vfs.map((v) => v.driver),
      Array(3).fill("iavf"),
    );
    const owners = r.stdout
      .trim()
      .split("\n")
      .map((l) => parseNodeReport(l).owner);
    assert.deepStrictEqual(owners, [PROD, TEST_OWNER], "one report per owner");
  });

  it("refuses a PF another owner claimed, naming both, before any write (two stacks, or a renamed node entry)", async () => {
    const h = await start(x710Host(1, {}, { numVfs: 2 }));
    ok(run(h, "apply", nodeState([allOn("ens1f0", 4)])), "apply test");
    const writes = h.writes().length;
    const calls = h.mutatingCalls().length;
    // The same node under its FQDN: Pulumi creates the new entry before it deletes the old one.
    const renamed = nodeState([allOn("ens1f0", 8)], {
      node: "k8s-node1.example.com",
      kernel: { iommu: "intel", hugepages1G: 2, hugepages2M: 0, writeBootloader: true },
    });
    const r = run(h, "apply", renamed);
    assert.strictEqual(r.status, 2, r.stderr);
    assert.ok(
      r.stderr.includes(
        `PF ens1f0 (${PF0}) is claimed by two owners: ${TEST_OWNER} (its first apply recorded it in ${stateDir(h)}/original/${PF0}) and kubevirt-sriov/test/k8s-node1.example.com (this apply)`,
      ),
      r.stderr,
    );
    assert.match(
      r.stderr,
      new RegExp(
        `cure: if ${TEST_OWNER} is this node entry under its old name, .* remove it from its stack and run pulumi up there`,
      ),
    );
    assert.ok(
      r.stderr.includes(`bash ${stateDir(h)}/sriov-node.sh revert ${TEST_OWNER}`),
      "the cure for an owner gone for good",
    );
    assert.deepStrictEqual(h.writes().slice(writes), [], "no sysfs write");
    assert.deepStrictEqual(h.mutatingCalls().slice(calls), [], "no ip/modprobe/systemctl change");
    assert.ok(!fs.existsSync(path.join(h.etc, "default/grub.d/kubevirt-sriov.cfg")), "not even the grub snippet");
    assert.strictEqual(h.pf("ens1f0").numVfs, 4);

    // The old entry's revert (its delete) gives the PF back; then the new entry can have it.
    ok(run(h, "revert", nodeState([allOn("ens1f0", 4)])), "revert the old entry");
    assert.strictEqual(h.pf("ens1f0").numVfs, 2);
    ok(run(h, "apply", renamed), "apply the renamed entry");
    assert.strictEqual(h.pf("ens1f0").numVfs, 8);
    assert.match(record(h, PF0), /^numvfs 2$/m, "the original is still what the host came with");
  });

  it("a revert of an owner that has nothing here changes nothing, whatever other owners left", async () => {
    const h = await start(x710Host(1));
    ok(run(h, "apply", nodeState([allOn("ens1f0", 4)], { owner: PROD })), "apply prod");
    const writes = h.writes().length;
    const r = ok(run(h, "revert", nodeState([allOn("ens1f0", 4)])), "revert test");
    assert.match(r.stderr, new RegExp(`nothing recorded for ${TEST_OWNER}`));
    assert.match(r.stderr, /revert: no changes \(0 writes\)/);
    assert.deepStrictEqual(h.writes().slice(writes), []);
    assert.strictEqual(h.pf("ens1f0").numVfs, 4);
    assert.ok(fs.existsSync(unitFile(h)));
  });

  it("revert by hand: the only owner without arguments; with several, only the one named", async () => {
    const h = await start(x710Host(2));
    ok(run(h, "apply", nodeState([allOn("ens1f0", 4)])), "apply test");
    ok(run(h, "apply", nodeState([allOn("ens2f0", 2)], { owner: PROD })), "apply prod");
    const script = path.join(stateDir(h), "sriov-node.sh");
    const ambiguous = h.run(["revert"], "", script);
    assert.strictEqual(ambiguous.status, 64);
    assert.ok(
      ambiguous.stderr.includes(
        `holds 2 owners (${PROD} ${TEST_OWNER}); cure: name the one to revert: ${script} revert <owner>`,
      ),
      ambiguous.stderr,
    );
    ok(h.run(["revert", PROD], "", script), "revert prod by name");
    assert.deepStrictEqual([h.pf("ens1f0").numVfs, h.pf("ens2f0").numVfs], [4, 0]);
    ok(h.run(["revert"], "", script), "revert the only owner left");
    assert.strictEqual(h.pf("ens1f0").numVfs, 0);
    assert.ok(!fs.existsSync(stateDir(h)));
    assert.strictEqual(h.run(["revert", "../../etc"], "").status, 64, "an owner is never a path");
  });

  it("takes over a host prepared before owners existed: adopts its records, replaces its one state, reverts as before", async () => {
    const h = await start(x710Host(2, {}, { numVfs: 2 }));
    // What the previous script version left: one state file and records without an owner.
    const old = nodeState([allOn("ens1f0", 4)]);
    fs.mkdirSync(path.join(stateDir(h), "original"), { recursive: true });
    fs.writeFileSync(
      path.join(stateDir(h), "state"),
      renderStateLines(old)
        .replace(/^owner .*\n/m, "")
        .replace(/^identity .*\n/m, ""),
    );
    fs.writeFileSync(path.join(stateDir(h), "original", PF0), "numvfs 2\nautoprobe 1\nname ens1f0\n");
    fs.writeFileSync(path.join(stateDir(h), "original", PF1), "numvfs 2\nautoprobe 1\nname ens2f0\n"); // a PF it no longer configures
    ok(run(h, "apply", old), "apply with owners");
    assert.strictEqual(record(h, PF0), `numvfs 2\nautoprobe 1\nname ens1f0\nowner ${TEST_OWNER}\n`);
    assert.ok(fs.statSync(path.join(stateDir(h), "state")).isDirectory());
    assert.strictEqual(fs.readFileSync(path.join(stateDir(h), "state", TEST_OWNER), "utf8"), renderStateLines(old));
    ok(run(h, "revert", old), "revert");
    assert.deepStrictEqual([h.pf("ens1f0").numVfs, h.pf("ens2f0").numVfs], [2, 2]);
    assert.ok(!fs.existsSync(stateDir(h)), "the leftover record went with the last owner");
  });

  it("why the remote command is deleteBeforeReplace: a replacement is the same owner, and a revert after the new apply undoes it", async () => {
    const h = await start(x710Host(1));
    const state = nodeState([allOn("ens1f0", 4)]);
    // Create-before-delete: the new resource's apply, then the old one's revert.
    ok(run(h, "apply", state), "new apply");
    ok(run(h, "revert", state), "old revert");
    assert.strictEqual(h.pf("ens1f0").numVfs, 0, "the node lost its VFs");
    // Delete-before-replace (what SriovNodePrep asks for): the old revert, then the new apply.
    ok(run(h, "apply", state), "first apply");
    ok(run(h, "revert", state), "old revert");
    ok(run(h, "apply", state), "new apply");
    assert.strictEqual(h.pf("ens1f0").numVfs, 4);
  });

  describe("revert restores the PF's link as the first apply found it", () => {
    it("MTU and admin state: down at 1500 before, 9000 and up while prepared, down at 1500 after", async () => {
      const h = await start(x710Host(1));
      const state = nodeState([{ ...allOn("ens1f0", 2), mtu: 9000 }]);
      ok(run(h, "apply", state), "apply");
      assert.deepStrictEqual([h.pf("ens1f0").up, h.pf("ens1f0").mtu], [true, 9000]);
      assert.match(record(h, PF0), /^up 0\nmtu 1500$/m);
      const calls = h.mutatingCalls().length;
      ok(run(h, "revert", state), "revert");
      assert.deepStrictEqual([h.pf("ens1f0").up, h.pf("ens1f0").mtu], [false, 1500]);
      assert.deepStrictEqual(
        h
          .mutatingCalls()
          .slice(calls)
          .filter((c) => c.startsWith("ip ")),
        ["ip link set dev ens1f0 mtu 1500", "ip link set dev ens1f0 down"],
      );
    });

    it("a PF that was up stays up; one whose MTU apply did not change keeps it", async () => {
      const h = await start(x710Host(1, {}, { up: true, mtu: 9000 }));
      const state = nodeState([allOn("ens1f0", 2)]);
      ok(run(h, "apply", state), "apply");
      const calls = h.mutatingCalls().length;
      ok(run(h, "revert", state), "revert");
      assert.deepStrictEqual([h.pf("ens1f0").up, h.pf("ens1f0").mtu], [true, 9000]);
      assert.deepStrictEqual(
        h
          .mutatingCalls()
          .slice(calls)
          .filter((c) => c.startsWith("ip ")),
        [],
      );
    });
  });
});
