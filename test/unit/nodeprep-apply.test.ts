// sriov-node.sh apply against a simulated host whose sysfs enforces the kernel's rules.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { NodeState, renderStateLines } from "../../render/nodeState";
import { parseDiscovery, parseNodeReport } from "../../render/nodeReport";
import { RunResult, SimHost, simHostPerTest, x710Host } from "../sim/host";
import { allOn, nodeState } from "../sim/states";

const PF0 = "0000:10:00.0";
const PF1 = "0000:11:00.0";

describe("nodeprep: sriov-node.sh apply on a simulated host", function () {
  this.timeout(120000);
  const start = simHostPerTest();

  function apply(h: SimHost, state: NodeState): RunResult {
    return h.run(["apply"], renderStateLines(state));
  }

  // Writes and calls made before a refused apply (by setup) are not the refused apply's.
  const baseline = new WeakMap<SimHost, { writes: number; calls: number; prepared: boolean }>();
  const stateDir = (h: SimHost) => path.join(h.etc, "kubevirt-sriov");
  function mark(h: SimHost): void {
    baseline.set(h, {
      writes: h.writes().length,
      calls: h.mutatingCalls().length,
      prepared: fs.existsSync(stateDir(h)),
    });
  }

  function assertRefused(r: RunResult, h: SimHost, ...fragments: (string | RegExp)[]): void {
    const base = baseline.get(h) ?? { writes: 0, calls: 0, prepared: false };
    assert.strictEqual(r.status, 2, `expected exit 2, got ${r.status}: ${r.stderr}`);
    for (const f of fragments) {
      if (typeof f === "string") assert.ok(r.stderr.includes(f), `stderr lacks ${JSON.stringify(f)}:\n${r.stderr}`);
      else assert.match(r.stderr, f);
    }
    assert.match(r.stderr, /cure: /);
    assert.deepStrictEqual(h.writes().slice(base.writes), [], "a refused apply must not write to sysfs");
    assert.deepStrictEqual(
      h.mutatingCalls().slice(base.calls),
      [],
      "a refused apply must not run ip/modprobe/systemctl changes",
    );
    assert.strictEqual(r.stdout, "", "a refused apply prints no report");
    if (!base.prepared)
      assert.ok(
        !fs.existsSync(stateDir(h)),
        "a refused apply leaves no /etc/kubevirt-sriov (not even its lock) on a host never prepared",
      );
  }

  it("takes a fresh PF to N VFs on vfio-pci, autoprobe off before the VFs exist", async () => {
    const h = await start(x710Host(1));
    const r = apply(h, nodeState([allOn("ens1f0", 8)]));
    assert.strictEqual(r.status, 0, r.stderr);
    const pf = h.pf("ens1f0");
    assert.strictEqual(pf.numVfs, 8);
    assert.strictEqual(pf.autoprobe, 0);
    assert.strictEqual(pf.up, true);
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.driver),
      Array(8).fill("vfio-pci"),
    );
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.override),
      Array(8).fill(null),
      "driver_override is cleared after binding",
    );
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.netdev),
      Array(8).fill(null),
      "no host driver ever grabbed a VF",
    );

    const w = h.writes();
    const autoprobe = w.findIndex((x) => x.path.endsWith(`${PF0}/sriov_drivers_autoprobe`) && x.value === "0");
    const numvfs = w.findIndex((x) => x.path.endsWith(`${PF0}/sriov_numvfs`) && x.value === "8");
    assert.ok(autoprobe >= 0 && autoprobe < numvfs, "autoprobe=0 is written before the VFs are created");
    assert.ok(
      w.every((x) => x.result === "ok"),
      JSON.stringify(w.filter((x) => x.result !== "ok")),
    );
    assert.ok(!w.some((x) => x.path.endsWith("/new_id")), "new_id binds every device with that ID: never used");
    assert.ok(h.mutatingCalls().includes("modprobe vfio-pci"));

    const rep = parseNodeReport(r.stdout);
    assert.strictEqual(rep.vfioReady, true);
    assert.deepStrictEqual(rep.vfio.conflicts, [], "each VF has its own IOMMU group");
    assert.deepStrictEqual(rep.apply.changedPfs, [PF0]);
    assert.strictEqual(rep.apply.writes, Number(/apply: (\d+) writes/.exec(r.stderr)?.[1]));
    const reported = rep.pfs.find((p) => p.pciAddress === PF0);
    assert.deepStrictEqual(
      reported?.vfs.map((v) => [v.pciAddress, v.driver, v.iommuGroup]),
      pf.vfs.map((v) => [v.bdf, "vfio-pci", String(v.iommuGroup)]),
    );
  });

  it("re-applying the same state makes zero writes", async () => {
    const h = await start(x710Host(1));
    const state = nodeState([
      {
        name: "ens1f0",
        numVfs: 8,
        mtu: 9000,
        vfGroups: [
          { first: 0, last: 5, driver: "vfio-pci", pool: "voice", trust: true, spoofchk: false, vlan: 100, qos: 5 },
          { first: 6, last: 7, driver: "netdevice", pool: "sig", maxTxRate: 1000, minTxRate: 10, linkState: "enable" },
        ],
      },
    ]);
    assert.strictEqual(apply(h, state).status, 0);
    const writes = h.writes().length;
    const calls = h.mutatingCalls().length;
    const r = apply(h, state);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /apply: no changes \(0 writes\)/);
    assert.strictEqual(
      h.writes().length,
      writes,
      `sysfs writes on re-apply: ${JSON.stringify(h.writes().slice(writes))}`,
    );
    assert.deepStrictEqual(h.mutatingCalls().slice(calls), []);
    const rep = parseNodeReport(r.stdout);
    assert.strictEqual(rep.apply.writes, 0);
    assert.deepStrictEqual(rep.apply.changedPfs, []);
  });

  it("applies per-VF settings through the PF and mixes vfio-pci and netdevice VFs on one PF", async () => {
    const h = await start(x710Host(1));
    const r = apply(
      h,
      nodeState([
        {
          name: "ens1f0",
          numVfs: 4,
          mtu: 9000,
          vfGroups: [
            { first: 0, last: 1, driver: "vfio-pci", pool: "voice", trust: true, spoofchk: false, vlan: 100, qos: 5 },
            { first: 2, last: 3, driver: "netdevice", pool: "sig", maxTxRate: 1000, linkState: "disable" },
          ],
        },
      ]),
    );
    assert.strictEqual(r.status, 0, r.stderr);
    const pf = h.pf("ens1f0");
    assert.strictEqual(pf.mtu, 9000);
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.driver),
      ["vfio-pci", "vfio-pci", "iavf", "iavf"],
    );
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.netdev),
      [null, null, "ens1f0v2", "ens1f0v3"],
    );
    assert.deepStrictEqual(pf.vfs.map((v) => [v.trust, v.spoofchk, v.vlan, v.qos]).slice(0, 2), [
      [true, false, 100, 5],
      [true, false, 100, 5],
    ]);
    assert.deepStrictEqual(pf.vfs.map((v) => [v.maxTxRate, v.linkState]).slice(2), [
      [1000, "disable"],
      [1000, "disable"],
    ]);
    // The PF stays closed to host drivers after the netdevice VFs were probed.
    assert.strictEqual(pf.autoprobe, 0);
    // One setting per command, so a refusal names exactly one (vlan and its qos are one).
    const vf0 = h.mutatingCalls().filter((c) => c.startsWith("ip link set dev ens1f0 vf 0 "));
    assert.deepStrictEqual(vf0, [
      "ip link set dev ens1f0 vf 0 trust on",
      "ip link set dev ens1f0 vf 0 spoofchk off",
      "ip link set dev ens1f0 vf 0 vlan 100 qos 5",
    ]);
  });

  it("goes N -> M through 0 (the kernel refuses nonzero -> nonzero with EBUSY)", async () => {
    const h = await start(x710Host(1));
    assert.strictEqual(apply(h, nodeState([allOn("ens1f0", 8)])).status, 0);
    const before = h.writes().length;
    const r = apply(h, nodeState([allOn("ens1f0", 4)]));
    assert.strictEqual(r.status, 0, r.stderr);
    const numvfs = h
      .writes()
      .slice(before)
      .filter((w) => w.path.endsWith("/sriov_numvfs"));
    assert.deepStrictEqual(
      numvfs.map((w) => [w.value, w.result]),
      [
        ["0", "ok"],
        ["4", "ok"],
      ],
    );
    const pf = h.pf("ens1f0");
    assert.strictEqual(pf.numVfs, 4);
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.driver),
      Array(4).fill("vfio-pci"),
    );
    assert.match(r.stderr, /apply: \d+ writes/);
  });

  it("moves VFs between drivers without recreating them when the count is unchanged", async () => {
    const h = await start(x710Host(1));
    assert.strictEqual(apply(h, nodeState([allOn("ens1f0", 4)])).status, 0);
    const before = h.writes().length;
    const r = apply(
      h,
      nodeState([
        {
          name: "ens1f0",
          numVfs: 4,
          vfGroups: [
            { first: 0, last: 1, driver: "vfio-pci", pool: "voice" },
            { first: 2, last: 3, driver: "netdevice", pool: "sig" },
          ],
        },
      ]),
    );
    assert.strictEqual(r.status, 0, r.stderr);
    assert.ok(
      !h
        .writes()
        .slice(before)
        .some((w) => w.path.endsWith("/sriov_numvfs")),
      "no VF recreation",
    );
    assert.deepStrictEqual(
      h.pf("ens1f0").vfs.map((v) => v.driver),
      ["vfio-pci", "vfio-pci", "iavf", "iavf"],
    );
  });

  it("refuses more VFs than sriov_totalvfs, naming the PF and the limit", async () => {
    const h = await start(x710Host(1));
    const r = apply(h, nodeState([allOn("ens1f0", 65)]));
    assertRefused(r, h, `PF ens1f0 (${PF0}) supports at most 64 VFs`, "set numVfs to 64 or less");
    assert.strictEqual(h.pf("ens1f0").numVfs, 0);
  });

  it("refuses a PF that is not on the node and lists the PFs that are", async () => {
    const h = await start(x710Host(2));
    const r = apply(h, nodeState([allOn("ens9f9", 2)]));
    assertRefused(
      r,
      h,
      "PF ens9f9 (-) not found on this node",
      `present SR-IOV PFs: ens1f0 (${PF0}), ens2f0 (${PF1})`,
      "fix the PF name or pciAddress for node k8s-node1",
    );
    const byBdf = apply(h, nodeState([{ pciAddress: "0000:99:00.0", numVfs: 2, vfGroups: [] }]));
    assertRefused(byBdf, h, "PF - (0000:99:00.0) not found on this node");
  });

  it("finds a PF by PCI address and refuses a name that points at another device", async () => {
    const h = await start(x710Host(2));
    const mismatch = apply(h, nodeState([{ name: "ens1f0", pciAddress: PF1, numVfs: 2, vfGroups: [] }]));
    assertRefused(mismatch, h, `interface ens1f0 is PCI device ${PF0}, not ${PF1}`);
    const r = apply(
      h,
      nodeState([{ pciAddress: PF1, numVfs: 2, vfGroups: [{ first: 0, last: 1, driver: "vfio-pci", pool: "voice" }] }]),
    );
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(h.pf(PF1).numVfs, 2);
  });

  it("refuses a PF without SR-IOV", async () => {
    const hw = x710Host(1);
    hw.pfs.push({ bdf: "0000:20:00.0", name: "eno1", driver: "igb", device: "0x1533", sriov: false });
    const h = await start(hw);
    const r = apply(h, nodeState([allOn("eno1", 2)]));
    assertRefused(r, h, "PF eno1 (0000:20:00.0) is not SR-IOV capable", "choose an SR-IOV capable PF");
  });

  it("refuses vfio-pci VFs while the IOMMU is off, with the kernel-argument cure", async () => {
    const h = await start(x710Host(1, { iommu: false, cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro" }));
    const r = apply(h, nodeState([allOn("ens1f0", 4)]));
    assertRefused(
      r,
      h,
      "the IOMMU is off",
      `PF ens1f0 (${PF0})`,
      "add intel_iommu=on iommu=pt (Intel) or iommu=pt (AMD) to the kernel command line and reboot",
    );
  });

  it("with writeBootloader, still writes the grub snippet when the IOMMU is off (it is the cure)", async () => {
    const h = await start(x710Host(1, { iommu: false, cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro" }));
    const state = nodeState([allOn("ens1f0", 4)], {
      kernel: { iommu: "intel", hugepages1G: 8, hugepages2M: 0, writeBootloader: true },
    });
    const r = apply(h, state);
    assert.strictEqual(r.status, 2);
    assert.deepStrictEqual(h.writes(), [], "no sysfs writes");
    const snippet = fs.readFileSync(`${h.etc}/default/grub.d/kubevirt-sriov.cfg`, "utf8");
    assert.match(
      snippet,
      /^GRUB_CMDLINE_LINUX="\$\{GRUB_CMDLINE_LINUX\} intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=8"$/m,
    );
    assert.match(r.stderr, /run update-grub \(or grub2-mkconfig\) and reboot/);
  });

  it("reports vfio-pci VFs that share an IOMMU group with a device on a host driver: bound, but no VM can use them", async () => {
    // No ACS: the VFs sit in the PF's group, and the PF stays on i40e.
    const h = await start(x710Host(1, {}, { acs: false }));
    const r = apply(h, nodeState([allOn("ens1f0", 4)]));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(
      h.pf("ens1f0").vfs.map((v) => v.driver),
      Array(4).fill("vfio-pci"),
    );
    const rep = parseNodeReport(r.stdout);
    assert.strictEqual(rep.vfioReady, false);
    assert.strictEqual(rep.vfio.conflicts.length, 1);
    assert.match(
      rep.vfio.conflicts[0],
      /^PF ens1f0 \(0000:10:00\.0\): 4 vfio-pci VFs share an IOMMU group with devices on other drivers \(group \d+: 0000:10:00\.0 \(i40e\)\), so no VM can use them; cure: enable ACS .*or give this PF driver: netdevice$/,
    );
    assert.match(r.stderr, /share an IOMMU group/, "said on the console too");
    const discovered = parseDiscovery(h.run(["discover"], "").stdout);
    assert.deepStrictEqual(discovered.vfio.conflicts, rep.vfio.conflicts);
    // The same VFs on their host driver: nothing to hand to a VM, nothing to report.
    const again = apply(h, nodeState([allOn("ens1f0", 4, "netdevice")]));
    assert.strictEqual(again.status, 0, again.stderr);
    assert.deepStrictEqual(parseNodeReport(again.stdout).vfio.conflicts, []);
  });

  it("netdevice-only VFs need neither the IOMMU nor vfio-pci", async () => {
    const h = await start(x710Host(1, { iommu: false, vfio: "missing" }));
    const r = apply(h, nodeState([allOn("ens1f0", 4, "netdevice")]));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(
      h.pf("ens1f0").vfs.map((v) => v.driver),
      Array(4).fill("iavf"),
    );
    assert.strictEqual(parseNodeReport(r.stdout).vfioReady, false);
  });

  it("refuses vfio-pci VFs when the vfio-pci module is unavailable", async () => {
    const h = await start(x710Host(1, { vfio: "missing" }));
    const r = apply(h, nodeState([allOn("ens1f0", 4)]));
    assertRefused(
      r,
      h,
      "the vfio-pci driver is not available",
      `PF ens1f0 (${PF0})`,
      "install the kernel's vfio-pci module",
    );
  });

  it("loads vfio-pci before the first PF write: a module on disk that fails to load changes no PF", async () => {
    // Two PFs: the old order (PF 1's autoprobe and VFs, then modprobe) left PF 1 half done.
    const h = await start(x710Host(2, { vfio: "broken" }));
    const r = apply(h, nodeState([allOn("ens1f0", 4), allOn("ens2f0", 4)]));
    assert.strictEqual(r.status, 2, r.stderr);
    assert.ok(
      r.stderr.includes(
        `error: loading the vfio-pci module failed (modprobe vfio-pci: modprobe: ERROR: could not insert 'vfio_pci': Key was rejected by service) but VFs of PF ens1f0 (${PF0}), PF ens2f0 (${PF1}) need it; nothing on the PFs was changed; cure: check dmesg`,
      ),
      r.stderr,
    );
    assert.deepStrictEqual(h.writes(), [], "no autoprobe, no VFs");
    assert.deepStrictEqual(h.mutatingCalls(), ["modprobe vfio-pci"]);
    assert.deepStrictEqual(
      h.state().pfs.map((p) => [p.numVfs, p.autoprobe, p.up]),
      [
        [0, 1, false],
        [0, 1, false],
      ],
    );
    assert.strictEqual(r.stdout, "");
  });

  it("verifies the module: modprobe that succeeds without loading vfio-pci (an install rule) changes no PF", async () => {
    const h = await start(x710Host(1, { vfio: "inert" }));
    const r = apply(h, nodeState([allOn("ens1f0", 4)]));
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /error: modprobe vfio-pci succeeded but .*\/bus\/pci\/drivers\/vfio-pci did not appear, so VFs of PF ens1f0 \(0000:10:00\.0\) cannot be bound; nothing on the PFs was changed; cure: look for an install or blacklist rule/,
    );
    assert.deepStrictEqual(h.writes(), []);
    assert.strictEqual(h.pf("ens1f0").numVfs, 0);
  });

  it("uses an already loaded vfio-pci without modprobe", async () => {
    const h = await start(x710Host(1, { vfio: "loaded" }));
    assert.strictEqual(apply(h, nodeState([allOn("ens1f0", 2)])).status, 0);
    assert.ok(!h.mutatingCalls().some((c) => c.startsWith("modprobe")), h.calls().join("\n"));
  });

  describe("VFs in use", () => {
    async function hostWithBusyNetdev(): Promise<SimHost> {
      const h = await start(x710Host(1, {}, { numVfs: 4 })); // VFs pre-exist on iavf (autoprobe on)
      h.control("ip link set dev ens1f0v1 up");
      h.control("ip addr add 10.20.0.5/24 dev ens1f0v1");
      h.control("ip link set dev ens1f0v2 up"); // up without an address: not in use
      h.control("ip addr add fe80::1/64 dev ens1f0v2");
      return h;
    }

    it("refuses to change the VF count under a VF whose netdev is up with an address", async () => {
      const h = await hostWithBusyNetdev();
      const r = apply(h, nodeState([allOn("ens1f0", 8)]));
      assertRefused(
        r,
        h,
        `PF ens1f0 (${PF0}): VF 1 (0000:10:02.1) is in use: its netdev ens1f0v1 is up with address 10.20.0.5/24`,
        "changing the VF count from 4 to 8 destroys it",
        "drain node k8s-node1",
        "allowDisruption: true",
      );
      assert.ok(!r.stderr.includes("VF 2 "), "a link-local address alone is not use");
      assert.strictEqual(h.pf("ens1f0").numVfs, 4);
    });

    it("refuses to rebind a VF whose vfio group a VM holds open", async () => {
      const h = await start(x710Host(1));
      assert.strictEqual(apply(h, nodeState([allOn("ens1f0", 4)])).status, 0);
      const group = h.pf("ens1f0").vfs[2].iommuGroup as number;
      h.holdVfioGroup(group, 4242, "qemu-kvm");
      const before = h.writes().length;
      const r = apply(h, nodeState([allOn("ens1f0", 4, "netdevice")]));
      assert.strictEqual(r.status, 2, r.stderr);
      assert.ok(
        r.stderr.includes(`VF 2 (0000:10:02.2) is in use: its vfio group ${group} is held open by pid 4242 (qemu-kvm)`),
        r.stderr,
      );
      assert.ok(r.stderr.includes("rebinding it from vfio-pci to netdevice interrupts it"), r.stderr);
      assert.strictEqual(h.writes().length, before);
      assert.deepStrictEqual(
        h.pf("ens1f0").vfs.map((v) => v.driver),
        Array(4).fill("vfio-pci"),
      );
    });

    it("counts a netdevice VF whose netdev a pod took into its namespace as in use, and as correctly bound", async () => {
      const h = await start(x710Host(1));
      const state = nodeState([allOn("ens1f0", 4, "netdevice")]);
      assert.strictEqual(apply(h, state).status, 0);
      h.control("netns ens1f0v3 cni-7f3a");
      const again = apply(h, state);
      assert.strictEqual(again.status, 0, again.stderr);
      assert.match(again.stderr, /no changes \(0 writes\)/, "the VF is still on its net driver: nothing to do");
      mark(h);
      const r = apply(h, nodeState([allOn("ens1f0", 2, "netdevice")]));
      assertRefused(
        r,
        h,
        `VF 3 (0000:10:02.3) is in use: its iavf netdev is not in the host network namespace (a pod has it)`,
      );
    });

    it("goes ahead with allowDisruption: true and says so", async () => {
      const h = await hostWithBusyNetdev();
      const r = apply(h, nodeState([allOn("ens1f0", 8)], { allowDisruption: true }));
      assert.strictEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /allowDisruption is set: disrupting 1 VF\(s\) in use/);
      const pf = h.pf("ens1f0");
      assert.strictEqual(pf.numVfs, 8);
      assert.deepStrictEqual(
        pf.vfs.map((v) => v.driver),
        Array(8).fill("vfio-pci"),
      );
    });
  });

  it("stops with a clear error when a bind fails midway, and a re-run converges", async () => {
    const h = await start(x710Host(1, { faults: [{ op: "bind", pf: "ens1f0", vf: 3, times: 1, errno: "EIO" }] }));
    const state = nodeState([allOn("ens1f0", 6)]);
    const r = apply(h, state);
    assert.strictEqual(r.status, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `PF ens1f0 \\(${PF0}\\): binding VF 3 \\(0000:10:02\\.3\\) to vfio-pci failed: Input/output error; \\d+ change\\(s\\) made so far; cure: check dmesg for VF 3`,
      ),
    );
    let pf = h.pf("ens1f0");
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.driver),
      ["vfio-pci", "vfio-pci", "vfio-pci", null, null, null],
    );
    assert.strictEqual(pf.vfs[3].override, "vfio-pci", "the failed VF keeps its override until the re-run");

    const again = apply(h, state);
    assert.strictEqual(again.status, 0, again.stderr);
    pf = h.pf("ens1f0");
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.driver),
      Array(6).fill("vfio-pci"),
    );
    assert.deepStrictEqual(
      pf.vfs.map((v) => v.override),
      Array(6).fill(null),
    );
    assert.strictEqual(parseNodeReport(again.stdout).vfioReady, true);
    assert.match(apply(h, state).stderr, /no changes \(0 writes\)/);
  });

  it("never touches a PF that is not in the desired state", async () => {
    const h = await start(x710Host(2, {}, { numVfs: 2 }));
    const r = apply(h, nodeState([allOn("ens1f0", 4)]));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.ok(!h.writes().some((w) => w.path.includes(PF1) || w.path.includes("0000:11:")), JSON.stringify(h.writes()));
    assert.ok(!h.mutatingCalls().some((c) => c.includes("ens2f0")));
    const other = h.pf("ens2f0");
    assert.strictEqual(other.numVfs, 2);
    assert.strictEqual(other.autoprobe, 1);
    assert.deepStrictEqual(
      other.vfs.map((v) => v.driver),
      ["iavf", "iavf"],
    );
  });

  it("reports kernel-argument changes against /proc/cmdline without touching the bootloader by default", async () => {
    const h = await start(
      x710Host(1, { cmdline: "BOOT_IMAGE=/vmlinuz ro intel_iommu=on default_hugepagesz=1G hugepagesz=1G hugepages=4" }),
    );
    const state = nodeState([allOn("ens1f0", 2)], {
      kernel: { iommu: "intel", hugepages1G: 8, hugepages2M: 0, writeBootloader: false },
    });
    const r = apply(h, state);
    assert.strictEqual(r.status, 0, r.stderr);
    const rep = parseNodeReport(r.stdout);
    assert.deepStrictEqual(rep.kernelChanges, ["iommu=pt", "default_hugepagesz=1G", "hugepagesz=1G", "hugepages=8"]);
    assert.strictEqual(rep.rebootRequired, true);
    assert.match(r.stderr, /a reboot is needed \(nothing was rebooted\)/);
    assert.ok(!fs.existsSync(`${h.etc}/default/grub.d/kubevirt-sriov.cfg`));

    const h2 = await SimHost.start(
      x710Host(1, { cmdline: "ro intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=8" }),
    );
    try {
      const ok = parseNodeReport(h2.run(["apply"], renderStateLines(state)).stdout);
      assert.deepStrictEqual(ok.kernelChanges, []);
      assert.strictEqual(ok.rebootRequired, false);
    } finally {
      await h2.stop();
    }
  });

  it("rejects a malformed desired state before looking at the node", async () => {
    const h = await start(x710Host(1));
    const r = h.run(["apply"], "schema 1\nnode k8s-node1\npf ens1f0;reboot - 4 -\nend\n");
    assert.strictEqual(r.status, 64);
    assert.match(r.stderr, /desired state line 3: bad token 'ens1f0;reboot'/);
    const truncated = h.run(["apply"], renderStateLines(nodeState([allOn("ens1f0", 2)])).replace("end\n", ""));
    assert.strictEqual(truncated.status, 64);
    assert.match(truncated.stderr, /truncated/);
    assert.deepStrictEqual(h.writes(), []);
  });
});
