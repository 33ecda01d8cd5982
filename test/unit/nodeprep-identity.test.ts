// Am I on the right node? apply compares the node name (or the configured identity) with the
// host's hostname and machine-id, and refuses a mismatch before any write.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { NodeState, renderStateLines } from "../../render/nodeState";
import { RunResult, SimHost, simHostPerTest, x710Host } from "../sim/host";
import { allOn, nodeState } from "../sim/states";

const MID = "0123456789abcdef0123456789abcdef";
const OTHER_MID = "fedcba9876543210fedcba9876543210";

describe("nodeprep: the host's identity", function () {
  this.timeout(120000);
  const start = simHostPerTest();

  const apply = (h: SimHost, state: NodeState): RunResult => h.run(["apply"], renderStateLines(state));
  const grub = (h: SimHost) => path.join(h.etc, "default/grub.d/kubevirt-sriov.cfg");
  // writeBootloader with the IOMMU off: even the grub snippet, written for a refused apply, must not be.
  const boot = { kernel: { iommu: "intel" as const, hugepages1G: 0, hugepages2M: 0, writeBootloader: true } };

  function assertNotTouched(r: RunResult, h: SimHost, ...fragments: string[]): void {
    assert.strictEqual(r.status, 2, r.stderr);
    for (const f of fragments) assert.ok(r.stderr.includes(f), `stderr lacks ${JSON.stringify(f)}:\n${r.stderr}`);
    assert.strictEqual(r.stdout, "");
    assert.deepStrictEqual(h.writes(), [], "no sysfs write");
    assert.deepStrictEqual(h.mutatingCalls(), [], "no ip/modprobe/systemctl change");
    assert.ok(!fs.existsSync(grub(h)), "no grub snippet");
    assert.ok(!fs.existsSync(path.join(h.etc, "kubevirt-sriov")), "no state, record or lock");
  }

  it("refuses a host whose hostname is another node's (a typo in ssh.host), naming expected, found and the cure", async () => {
    const h = await start(x710Host(1, { iommu: false, hostname: "db-7.example.com", machineId: MID }));
    const r = apply(h, nodeState([allOn("ens1f0", 4)], boot));
    assertNotTouched(
      r,
      h,
      "sriov-node[k8s-node1]: error: this host is not node k8s-node1: expected the hostname k8s-node1 (or k8s-node1.<domain>), " +
        `this host has hostname db-7.example.com, machine-id ${MID}; nothing was changed; ` +
        "cure: if nodes[].ssh.host of node k8s-node1 points at the wrong machine, fix it in the stack config; " +
        `if this is node k8s-node1 under another hostname (kubelet --hostname-override), set nodes[].identity.hostname: db-7.example.com (or identity.machineId: ${MID})`,
    );
    assert.strictEqual(h.pf("ens1f0").numVfs, 0);
  });

  it("accepts the hostname short or fully qualified, in any case, as the kubelet's node name", async () => {
    const h = await start(x710Host(1, { hostname: "K8S-Node1.Example.COM" }));
    assert.strictEqual(apply(h, nodeState([allOn("ens1f0", 2)])).status, 0, "short node name, FQDN hostname");
    h.setHostname("k8s-node1");
    const fqdnNode = nodeState([allOn("ens1f0", 2)], { node: "k8s-node1.example.com" });
    // (Another owner: the entry's name is part of it. Release the PF first.)
    assert.strictEqual(h.run(["revert"], renderStateLines(nodeState([allOn("ens1f0", 2)]))).status, 0);
    assert.strictEqual(apply(h, fqdnNode).status, 0, "FQDN node name, short hostname");
    h.setHostname("k8s-node1.other.org");
    const r = apply(h, fqdnNode);
    assert.strictEqual(r.status, 2, "two FQDNs must be equal");
    assert.match(
      r.stderr,
      /this host is not node k8s-node1\.example\.com: expected the hostname k8s-node1\.example\.com/,
    );
  });

  it("nodes[].identity.hostname: the host's name when the kubelet runs with --hostname-override", async () => {
    const h = await start(x710Host(1, { iommu: false, hostname: "srv-0042" }));
    const r = apply(h, nodeState([allOn("ens1f0", 2, "netdevice")], { identity: { hostname: "srv-0042" } }));
    assert.strictEqual(r.status, 0, r.stderr);
    const h2 = await SimHost.start(x710Host(1, { iommu: false, hostname: "srv-0043", machineId: MID }));
    try {
      const wrong = apply(h2, nodeState([allOn("ens1f0", 4)], { identity: { hostname: "srv-0042" }, ...boot }));
      assertNotTouched(
        wrong,
        h2,
        `this host is not node k8s-node1: the stack config expects the hostname srv-0042 (nodes[].identity.hostname), this host has hostname srv-0043, machine-id ${MID}; nothing was changed; `,
        "if the host was renamed, set identity.hostname: srv-0043",
      );
    } finally {
      await h2.stop();
    }
  });

  it("nodes[].identity.machineId: pins /etc/machine-id instead of the hostname", async () => {
    const h = await start(x710Host(1, { iommu: false, hostname: "localhost", machineId: OTHER_MID }));
    const pinned = nodeState([allOn("ens1f0", 4)], { identity: { machineId: MID }, ...boot });
    assertNotTouched(
      apply(h, pinned),
      h,
      `this host is not node k8s-node1: the stack config pins machine-id ${MID} (nodes[].identity.machineId), this host has hostname localhost, machine-id ${OTHER_MID}; nothing was changed; `,
      `if the node was reinstalled (a new machine-id), set identity.machineId: ${OTHER_MID}`,
    );
    h.setMachineId(MID);
    const r = apply(h, nodeState([allOn("ens1f0", 2, "netdevice")], { identity: { machineId: MID } }));
    assert.strictEqual(r.status, 0, `the machine-id matches, the hostname is not checked: ${r.stderr}`);
    const both = apply(
      h,
      nodeState([allOn("ens1f0", 2, "netdevice")], { identity: { machineId: MID, hostname: "k8s-node1" } }),
    );
    assert.strictEqual(both.status, 2, "both given: both checked");
    assert.match(
      both.stderr,
      /expects the hostname k8s-node1 \(nodes\[\]\.identity\.hostname\), this host has hostname localhost/,
    );
  });

  it("the boot unit re-applies whatever the host's name became (identity is checked when Pulumi applies)", async () => {
    const h = await start(x710Host(1));
    assert.strictEqual(apply(h, nodeState([allOn("ens1f0", 4)])).status, 0);
    h.setHostname("renamed");
    fs.writeFileSync(path.join(h.sysfs, "bus/pci/devices/0000:10:00.0/sriov_numvfs"), "0\n");
    const r = h.run(["apply-from-state"], "", path.join(h.etc, "kubevirt-sriov/sriov-node.sh"));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(h.pf("ens1f0").numVfs, 4);
  });
});
