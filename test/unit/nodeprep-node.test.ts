// sriov-node.sh revert, boot persistence and discover on a simulated host; shellcheck.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { renderStateLines } from "../../render/nodeState";
import { parseDiscovery, parseNodeReport } from "../../render/nodeReport";
import { SCRIPT_PATH, simHostPerTest, x710Host } from "../sim/host";
import { allOn, nodeState, TEST_OWNER } from "../sim/states";

const PF0 = "0000:10:00.0";
const UNIT = "kubevirt-sriov-vfs.service";

describe("nodeprep: sriov-node.sh revert, persistence and discover", function () {
  this.timeout(120000);
  const start = simHostPerTest();

  describe("revert", () => {
    it("restores the VF count and autoprobe recorded on first apply, and removes what apply installed", async () => {
      const h = await start(x710Host(1, {}, { numVfs: 2 })); // the node came with 2 VFs on iavf
      const state = nodeState([allOn("ens1f0", 8)], {
        kernel: { iommu: "intel", hugepages1G: 4, hugepages2M: 0, writeBootloader: true },
      });
      assert.strictEqual(h.run(["apply"], renderStateLines(state)).status, 0);
      // A second apply with another count must not overwrite the original record.
      assert.strictEqual(h.run(["apply"], renderStateLines(nodeState([allOn("ens1f0", 6)]))).status, 0);
      assert.strictEqual(
        fs.readFileSync(path.join(h.etc, "kubevirt-sriov/original", PF0), "utf8"),
        `numvfs 2\nautoprobe 1\nname ens1f0\nup 0\nmtu 1500\nowner ${TEST_OWNER}\n`,
      );
      assert.strictEqual(h.pf("ens1f0").up, true, "apply brings the PF up");

      const before = h.writes().length;
      const r = h.run(["revert"], renderStateLines(state));
      assert.strictEqual(r.status, 0, r.stderr);
      const numvfs = h
        .writes()
        .slice(before)
        .filter((w) => w.path.endsWith("/sriov_numvfs"))
        .map((w) => w.value);
      assert.deepStrictEqual(numvfs, ["0", "2"]);
      const pf = h.pf("ens1f0");
      assert.strictEqual(pf.numVfs, 2);
      assert.strictEqual(pf.autoprobe, 1);
      assert.deepStrictEqual(
        pf.vfs.map((v) => v.driver),
        ["iavf", "iavf"],
        "the restored VFs went back to the host driver",
      );
      assert.strictEqual(pf.up, false, "down again, as the first apply found it");
      assert.ok(!fs.existsSync(path.join(h.etc, "kubevirt-sriov")));
      assert.ok(!fs.existsSync(path.join(h.etc, "systemd/system", UNIT)));
      assert.ok(!fs.existsSync(path.join(h.etc, "default/grub.d/kubevirt-sriov.cfg")));
      assert.ok(h.mutatingCalls().includes(`systemctl disable ${UNIT}`));
      assert.ok(!fs.existsSync(path.join(h.systemdState, "enabled", UNIT)));
      assert.match(r.stderr, /removed .*kubevirt-sriov\.cfg: run update-grub and reboot/);
      const last = JSON.parse(r.stdout.trim().split("\n").pop() as string);
      assert.deepStrictEqual(last.revert.restoredPfs, [PF0]);

      const twice = h.run(["revert"], renderStateLines(state));
      assert.strictEqual(twice.status, 0, twice.stderr);
      assert.match(twice.stderr, /nothing to revert/);
      assert.match(twice.stderr, /revert: no changes \(0 writes\)/);
      assert.strictEqual(h.writes().length, before + 3, "autoprobe=1, numvfs=0, numvfs=2 and nothing more");
    });

    it("is a no-op that says so on a node that was never prepared", async () => {
      const h = await start(x710Host(1, {}, { numVfs: 3 }));
      const r = h.run(["revert"], "");
      assert.strictEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /nothing to revert \(this node was never prepared by kubevirt-sriov\)/);
      assert.deepStrictEqual(h.writes(), []);
      assert.deepStrictEqual(h.mutatingCalls(), []);
      assert.strictEqual(h.pf("ens1f0").numVfs, 3);
    });

    it("refuses to destroy VFs in use unless the state allows disruption", async () => {
      const h = await start(x710Host(1));
      const state = nodeState([allOn("ens1f0", 4)]);
      assert.strictEqual(h.run(["apply"], renderStateLines(state)).status, 0);
      const group = h.pf("ens1f0").vfs[0].iommuGroup as number;
      h.holdVfioGroup(group);
      const before = h.writes().length;
      const r = h.run(["revert"], renderStateLines(state));
      assert.strictEqual(r.status, 2, r.stderr);
      assert.ok(
        r.stderr.includes(
          `PF ens1f0 (${PF0}): VF 0 (0000:10:02.0) is in use: its vfio group ${group} is held open by pid 4242 (qemu-kvm); revert destroys it`,
        ),
        r.stderr,
      );
      assert.match(r.stderr, /cure: stop the VMs and pods using them/);
      assert.strictEqual(h.writes().length, before);
      assert.ok(
        fs.existsSync(path.join(h.etc, "kubevirt-sriov/original", PF0)),
        "the record survives a refused revert",
      );

      const forced = h.run(["revert"], renderStateLines({ ...state, allowDisruption: true }));
      assert.strictEqual(forced.status, 0, forced.stderr);
      assert.strictEqual(h.pf("ens1f0").numVfs, 0);
    });

    it("falls back to the saved state when run without one (the delete after a lost config)", async () => {
      const h = await start(x710Host(1));
      assert.strictEqual(h.run(["apply"], renderStateLines(nodeState([allOn("ens1f0", 4)]))).status, 0);
      const r = h.run(["revert"], "");
      assert.strictEqual(r.status, 0, r.stderr);
      assert.strictEqual(h.pf("ens1f0").numVfs, 0);
    });
  });

  describe("persistence", () => {
    it("installs the script, the state and a oneshot unit ordered before kubelet, and enables it once", async () => {
      const h = await start(x710Host(1));
      const lines = renderStateLines(nodeState([allOn("ens1f0", 4)]));
      assert.strictEqual(h.run(["apply"], lines).status, 0);
      const dir = path.join(h.etc, "kubevirt-sriov");
      assert.strictEqual(
        fs.readFileSync(path.join(dir, "sriov-node.sh"), "utf8"),
        fs.readFileSync(SCRIPT_PATH, "utf8"),
      );
      assert.strictEqual(fs.statSync(path.join(dir, "sriov-node.sh")).mode & 0o777, 0o755);
      assert.strictEqual(fs.readFileSync(path.join(dir, "state", TEST_OWNER), "utf8"), lines);

      const unit = fs.readFileSync(path.join(h.etc, "systemd/system", UNIT), "utf8");
      const section = (name: string) =>
        (new RegExp(`^\\[${name}\\]\\n([^[]*)`, "m").exec(unit)?.[1] ?? "").trim().split("\n");
      assert.deepStrictEqual(section("Service"), [
        "Type=oneshot",
        "RemainAfterExit=yes",
        `Environment=SYSFS_ROOT=${h.sysfs}`,
        `Environment=PROC_ROOT=${h.proc}`,
        `Environment=ETC_ROOT=${h.etc}`,
        `Environment=DEV_ROOT=${h.dev}`,
        `ExecStart=/bin/bash ${dir}/sriov-node.sh apply-from-state`,
      ]);
      const u = section("Unit");
      assert.ok(u.includes("Before=network-pre.target kubelet.service shutdown.target"), u.join("\n"));
      assert.ok(u.includes("After=systemd-udev-settle.service systemd-modules-load.service local-fs.target"));
      assert.ok(u.includes("DefaultDependencies=no"));
      assert.deepStrictEqual(section("Install"), ["WantedBy=multi-user.target kubelet.service"]);
      assert.deepStrictEqual(
        h.mutatingCalls().filter((c) => c.startsWith("systemctl")),
        ["systemctl daemon-reload", `systemctl enable ${UNIT}`],
      );

      // Same state again: no reload, no enable.
      assert.strictEqual(h.run(["apply"], lines).status, 0);
      assert.deepStrictEqual(h.mutatingCalls().filter((c) => c.startsWith("systemctl")).length, 2);
    });

    it("the unit for the real roots has no Environment lines", () => {
      const text = spawnSync(
        "/bin/bash",
        [
          "-c",
          `source <(sed -n '/^unit_text()/,/^}/p' '${SCRIPT_PATH}'); S_NODE=n1 STATE_DIR=/etc/kubevirt-sriov SYSFS_ROOT=/sys PROC_ROOT=/proc ETC_ROOT=/etc DEV_ROOT=/dev unit_text`,
        ],
        { encoding: "utf8" },
      );
      assert.strictEqual(text.status, 0, text.stderr);
      assert.ok(!text.stdout.includes("Environment="));
      assert.match(text.stdout, /^ExecStart=\/bin\/bash \/etc\/kubevirt-sriov\/sriov-node\.sh apply-from-state$/m);
    });

    it("apply-from-state recreates the VFs after a reboot from the installed copy alone", async () => {
      const h = await start(x710Host(1));
      assert.strictEqual(h.run(["apply"], renderStateLines(nodeState([allOn("ens1f0", 4)]))).status, 0);
      // Reboot: the kernel comes up with no VFs and autoprobe back on.
      fs.writeFileSync(path.join(h.sysfs, "bus/pci/devices", PF0, "sriov_numvfs"), "0\n");
      fs.writeFileSync(path.join(h.sysfs, "bus/pci/devices", PF0, "sriov_drivers_autoprobe"), "1\n");
      const calls = h.mutatingCalls().length;
      const r = h.run(["apply-from-state"], "", path.join(h.etc, "kubevirt-sriov/sriov-node.sh"));
      assert.strictEqual(r.status, 0, r.stderr);
      const pf = h.pf("ens1f0");
      assert.strictEqual(pf.numVfs, 4);
      assert.deepStrictEqual(
        pf.vfs.map((v) => v.driver),
        Array(4).fill("vfio-pci"),
      );
      assert.ok(
        !h
          .mutatingCalls()
          .slice(calls)
          .some((c) => c.startsWith("systemctl")),
        "the boot run does not touch systemd",
      );
      assert.strictEqual(parseNodeReport(r.stdout).vfioReady, true);
    });
  });

  describe("discover", () => {
    it("reports exactly the simulated hardware: net SR-IOV PFs only, their VFs, IOMMU and vfio", async () => {
      const hw = x710Host(2, { cmdline: 'BOOT_IMAGE=/vmlinuz ro quiet intel_iommu=on "weird\\arg"' });
      hw.pfs[1] = { ...hw.pfs[1], name: "ens2f0", numVfs: 3, numaNode: 1, vfDriver: "iavf" };
      hw.pfs.push({ bdf: "0000:30:00.0", name: "eno1", driver: "igb", sriov: false });
      hw.pfs.push({ bdf: "0000:40:00.0", name: null, class: "0x010802", driver: "nvme", totalVfs: 16 }); // SR-IOV NVMe
      hw.pfs.push({ bdf: "0000:50:00.0", name: null, driver: null, totalVfs: 8 }); // PF with no driver bound
      const h = await start(hw);
      h.control("ip link set dev ens1f0 up");
      const r = h.run(["discover"]);
      assert.strictEqual(r.status, 0, r.stderr);
      assert.strictEqual(r.stdout.split("\n").filter((l) => l).length, 1, "one line of JSON");
      const d = parseDiscovery(r.stdout);
      const sim = h.state();
      assert.strictEqual(d.kernel, "6.1.0-sim-amd64");
      assert.deepStrictEqual(d.iommu, {
        enabled: true,
        groups: 3 + 3 + 2,
        cmdline: 'BOOT_IMAGE=/vmlinuz ro quiet intel_iommu=on "weird\\arg"',
      });
      assert.deepStrictEqual(d.vfio, { loaded: false, loadable: true, conflicts: [] });
      assert.deepStrictEqual(
        d.pfs.map((p) => p.pciAddress),
        [PF0, "0000:11:00.0", "0000:50:00.0"],
      );
      assert.deepStrictEqual(d.pfs[0], {
        name: "ens1f0",
        pciAddress: PF0,
        vendor: "0x8086",
        device: "0x1572",
        driver: "i40e",
        totalVfs: 64,
        numVfs: 0,
        numaNode: 0,
        linkState: "up",
        mtu: 1500,
        vfs: [],
      });
      const simPf1 = sim.pfs.find((p) => p.bdf === "0000:11:00.0");
      assert.deepStrictEqual(
        d.pfs[1].vfs,
        simPf1?.vfs.map((v) => ({
          index: v.index,
          pciAddress: v.bdf,
          driver: v.driver,
          iommuGroup: String(v.iommuGroup),
        })),
      );
      assert.deepStrictEqual([d.pfs[1].linkState, d.pfs[1].numaNode, d.pfs[1].numVfs], ["down", 1, 3]);
      assert.deepStrictEqual(
        [d.pfs[2].name, d.pfs[2].driver, d.pfs[2].mtu, d.pfs[2].linkState],
        [null, null, null, "unknown"],
      );
      assert.deepStrictEqual(h.writes(), [], "discover writes nothing");
      assert.deepStrictEqual(h.mutatingCalls(), []);
    });

    it("reports IOMMU off and vfio missing", async () => {
      const h = await start(x710Host(1, { iommu: false, vfio: "missing" }, { numVfs: 2 }));
      const d = parseDiscovery(h.run(["discover"]).stdout);
      assert.deepStrictEqual([d.iommu.enabled, d.iommu.groups, d.vfio.loadable], [false, 0, false]);
      assert.deepStrictEqual(
        d.pfs[0].vfs.map((v) => [v.driver, v.iommuGroup]),
        [
          ["iavf", null],
          ["iavf", null],
        ],
      );
    });
  });

  it("the node script and the simulator's shims are shellcheck-clean", () => {
    const files = [
      SCRIPT_PATH,
      ...["ip", "modprobe", "systemctl"].map((f) => path.join(__dirname, "..", "sim", "shims", f)),
    ];
    const r = spawnSync("shellcheck", ["--severity=style", "--shell=bash", ...files], { encoding: "utf8" });
    if (r.error) throw new Error(`shellcheck is not installed (${r.error.message}); run .ci/install-node-test-deps.sh`);
    assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  });
});
