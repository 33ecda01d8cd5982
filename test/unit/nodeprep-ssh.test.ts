// The exact remote command string, through a real sshd, against a simulated host.
import * as assert from "assert";
import { renderRemoteCommand } from "../../render/nodeState";
import { parseNodeReport } from "../../render/nodeReport";
import { SimHost, x710Host } from "../sim/host";
import { TestSshd } from "../sim/sshd";
import { allOn, nodeState } from "../sim/states";

describe("nodeprep: renderRemoteCommand over a real SSH connection", function () {
  this.timeout(120000);
  let sshd: TestSshd | undefined;
  let host: SimHost | undefined;

  before(async () => {
    sshd = await TestSshd.start();
  });
  after(async () => {
    await sshd?.stop();
  });
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });

  // In production the script uses /sys, /proc, /etc, /dev and the node's own tools; here
  // the roots and a PATH with the simulator's shims travel inline in the command.
  function opts(h: SimHost) {
    return { roots: { sysfs: h.sysfs, proc: h.proc, etc: h.etc, dev: h.dev }, pathPrefix: h.bin };
  }

  it("apply binds the VFs and returns a parseable report; revert undoes it", async () => {
    const s = sshd as TestSshd;
    host = await SimHost.start(x710Host(1, {}, { numVfs: 1 }));
    const state = nodeState([
      {
        name: "ens1f0",
        numVfs: 6,
        vfGroups: [
          { first: 0, last: 3, driver: "vfio-pci", pool: "voice", vlan: 200 },
          { first: 4, last: 5, driver: "netdevice", pool: "sig" },
        ],
      },
    ]);

    const applied = s.exec(renderRemoteCommand("apply", state, opts(host)));
    assert.strictEqual(applied.status, 0, applied.stderr);
    const report = parseNodeReport(applied.stdout);
    assert.strictEqual(report.node, "k8s-node1");
    assert.strictEqual(report.vfioReady, true);
    const pf = host.pf("ens1f0");
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.driver),
      ["vfio-pci", "vfio-pci", "vfio-pci", "vfio-pci", "iavf", "iavf"],
    );
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.vlan),
      [200, 200, 200, 200, 0, 0],
    );
    assert.deepStrictEqual(
      report.pfs[0].vfs.map((v) => v.driver),
      pf.vfs.map((v) => v.driver),
    );
    assert.match(applied.stderr, /apply: \d+ writes/);
    assert.ok(!applied.stdout.includes("PRIVATE KEY") && !applied.stderr.includes("PRIVATE KEY"));
    assert.ok(!applied.stdout.includes(s.privateKey.split("\n")[1]));

    const again = s.exec(renderRemoteCommand("apply", state, opts(host)));
    assert.strictEqual(again.status, 0, again.stderr);
    assert.match(again.stderr, /apply: no changes \(0 writes\)/);

    const reverted = s.exec(renderRemoteCommand("revert", state, opts(host)));
    assert.strictEqual(reverted.status, 0, reverted.stderr);
    const after = host.pf("ens1f0");
    assert.strictEqual(after.numVfs, 1);
    assert.deepStrictEqual(
      after.vfs.map((v) => v.driver),
      ["iavf"],
    );
  });

  it("a refused apply comes back as a non-zero exit with the node's message", async () => {
    const s = sshd as TestSshd;
    host = await SimHost.start(x710Host(1, { vfio: "missing" }));
    const r = s.exec(renderRemoteCommand("apply", nodeState([allOn("ens1f0", 2)]), opts(host)));
    assert.strictEqual(r.status, 2);
    assert.match(
      r.stderr,
      /sriov-node\[k8s-node1\]: error: the vfio-pci driver is not available .*PF ens1f0 \(0000:10:00\.0\)/,
    );
    assert.strictEqual(r.stdout, "");
    assert.deepStrictEqual(host.writes(), []);
  });
});
