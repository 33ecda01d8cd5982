// The simulated sysfs returns the kernel's errors, so the script tests mean something.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { SimHost, igbHost, x710Host } from "../sim/host";

const PF0 = "0000:10:00.0";

function write(file: string, value: string): string {
  try {
    fs.writeFileSync(file, value + "\n");
    return "ok";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

describe("nodeprep: the simulated sysfs enforces the kernel's SR-IOV rules", function () {
  this.timeout(60000);
  let h: SimHost;
  const dev = (bdf: string, attr = "") => path.join(h.sysfs, "bus/pci/devices", bdf, attr);
  const drv = (name: string, attr: string) => path.join(h.sysfs, "bus/pci/drivers", name, attr);

  beforeEach(async () => {
    const hw = x710Host(1, { vfio: "loaded" });
    hw.pfs.push({ bdf: "0000:20:00.0", name: "eno1", driver: "igb", sriov: false });
    h = await SimHost.start(hw);
  });
  afterEach(async () => h.stop());

  it("sriov_numvfs: ERANGE above totalvfs, EBUSY nonzero to nonzero, same value a no-op, links follow the count", () => {
    assert.strictEqual(write(dev(PF0, "sriov_numvfs"), "65"), "ERANGE");
    assert.strictEqual(write(dev(PF0, "sriov_numvfs"), "4"), "ok");
    assert.strictEqual(write(dev(PF0, "sriov_numvfs"), "4"), "ok");
    assert.strictEqual(write(dev(PF0, "sriov_numvfs"), "3"), "EBUSY");
    assert.deepStrictEqual(
      fs
        .readdirSync(dev(PF0))
        .filter((f) => f.startsWith("virtfn"))
        .sort(),
      ["virtfn0", "virtfn1", "virtfn2", "virtfn3"],
    );
    assert.strictEqual(fs.readlinkSync(dev("0000:10:02.3", "physfn")), `../${PF0}`);
    assert.strictEqual(write(dev(PF0, "sriov_numvfs"), "0"), "ok");
    assert.ok(!fs.existsSync(dev("0000:10:02.0")), "VF device dirs vanish with the count");
    assert.strictEqual(write(dev(PF0, "sriov_totalvfs"), "8"), "EACCES");
  });

  it("a PF without SR-IOV has no sriov_* files", () => {
    assert.deepStrictEqual(
      fs.readdirSync(dev("0000:20:00.0")).filter((f) => f.startsWith("sriov")),
      [],
    );
    // kernfs cannot create files: writing a missing attribute fails like on a real host.
    assert.strictEqual(write(dev("0000:20:00.0", "sriov_numvfs"), "2"), "EACCES");
  });

  it("binding: vfio-pci only through driver_override, EBUSY when bound, autoprobe=0 keeps host drivers off", () => {
    write(dev(PF0, "sriov_drivers_autoprobe"), "0");
    write(dev(PF0, "sriov_numvfs"), "2");
    const vf = "0000:10:02.0";
    assert.ok(!fs.existsSync(dev(vf, "driver")), "autoprobe=0: no driver on creation");
    assert.strictEqual(write(drv("vfio-pci", "bind"), vf), "ENODEV", "vfio-pci has no ID table");
    assert.strictEqual(write(path.join(h.sysfs, "bus/pci/drivers_probe"), vf), "ok");
    assert.ok(!fs.existsSync(dev(vf, "driver")), "drivers_probe without override on an autoprobe=0 PF binds nothing");
    assert.strictEqual(write(dev(vf, "driver_override"), "vfio-pci"), "ok");
    assert.strictEqual(write(drv("vfio-pci", "bind"), vf), "ok");
    assert.strictEqual(fs.readlinkSync(dev(vf, "driver")), "../../../bus/pci/drivers/vfio-pci");
    assert.ok(
      fs.existsSync(path.join(h.dev, "vfio", fs.readlinkSync(dev(vf, "iommu_group")).split("/").pop() as string)),
    );
    assert.strictEqual(write(drv("vfio-pci", "bind"), vf), "EBUSY");
    assert.strictEqual(write(drv("iavf", "unbind"), vf), "ENODEV", "only the owning driver unbinds");
    assert.strictEqual(write(dev(vf, "driver_override"), ""), "ok");
    assert.strictEqual(fs.readFileSync(dev(vf, "driver_override"), "utf8"), "(null)\n");
    assert.strictEqual(write(drv("vfio-pci", "unbind"), vf), "ok");
    assert.ok(!fs.existsSync(dev(vf, "driver")));
  });

  it("VFs on the host driver get netdevs under class/net; unbinding removes them", () => {
    write(dev(PF0, "sriov_numvfs"), "2");
    assert.ok(fs.existsSync(path.join(h.sysfs, "class/net/ens1f0v1/device")));
    write(drv("iavf", "unbind"), "0000:10:02.1");
    assert.ok(!fs.existsSync(path.join(h.sysfs, "class/net/ens1f0v1")));
    assert.deepStrictEqual(
      h.writes().map((w) => [w.path.split("/").pop(), w.value, w.result]),
      [
        ["sriov_numvfs", "2", "ok"],
        ["unbind", "0000:10:02.1", "ok"],
      ],
    );
  });

  it("no IOMMU groups when the IOMMU is off, and vfio-pci refuses group-less devices", async () => {
    await h.stop();
    h = await SimHost.start(x710Host(1, { iommu: false, vfio: "loaded" }));
    write(dev(PF0, "sriov_numvfs"), "1");
    assert.deepStrictEqual(fs.readdirSync(path.join(h.sysfs, "kernel/iommu_groups")), []);
    assert.ok(!fs.existsSync(dev("0000:10:02.0", "iommu_group")));
    write(drv("iavf", "unbind"), "0000:10:02.0");
    write(dev("0000:10:02.0", "driver_override"), "vfio-pci");
    assert.strictEqual(write(drv("vfio-pci", "bind"), "0000:10:02.0"), "EINVAL");
  });
});

describe("nodeprep: the simulated igb PF refuses what igb refuses, and has a carrier", function () {
  this.timeout(60000);
  let h: SimHost | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  // The shim hands `ip link set` to the simulator this way; the errno is what ip(8) prints.
  const ip = (line: string) => write(path.join((h as SimHost).sysfs, ".sim/control"), `ip ${line}`);
  const attr = (name: string) => {
    try {
      return fs.readFileSync(path.join((h as SimHost).sysfs, "class/net/enp32s0", name), "utf8").trim();
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? String(e);
    }
  };

  it("state is EOPNOTSUPP, a nonzero min_tx_rate EINVAL, max_tx_rate EINVAL until carrier and above the link speed", async () => {
    h = await SimHost.start(igbHost({ numVfs: 2, carrierDelayMs: 400 }));
    // EOPNOTSUPP is ENOTSUP (95) on Linux; Node names it ENOTSUP, ip(8) "Operation not supported".
    assert.strictEqual(ip("link set dev enp32s0 vf 0 state enable"), "ENOTSUP");
    assert.strictEqual(ip("link set dev enp32s0 vf 0 state auto"), "ENOTSUP");
    assert.strictEqual(ip("link set dev enp32s0 vf 0 min_tx_rate 10"), "EINVAL");
    assert.strictEqual(attr("carrier"), "EINVAL", "carrier is unreadable while the interface is down");
    assert.strictEqual(ip("link set dev enp32s0 vf 0 max_tx_rate 100"), "EINVAL", "no link");
    for (const s of ["trust on", "spoofchk off", "vlan 100 qos 3", "mac 02:11:22:33:44:55"]) {
      assert.strictEqual(ip(`link set dev enp32s0 vf 0 ${s}`), "ok", s);
    }
    assert.strictEqual(ip("link set dev enp32s0 up"), "ok");
    assert.deepStrictEqual([attr("carrier"), attr("operstate"), attr("speed")], ["0", "down", "-1"], "autonegotiating");
    assert.match(
      fs.readFileSync(path.join(h.sysfs, ".sim/ip/link/enp32s0"), "utf8"),
      /<NO-CARRIER,BROADCAST,MULTICAST,UP> .* state DOWN/,
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.deepStrictEqual([attr("carrier"), attr("operstate"), attr("speed")], ["1", "up", "1000"]);
    assert.strictEqual(ip("link set dev enp32s0 vf 0 max_tx_rate 2000"), "EINVAL", "above the 1000 Mb/s link");
    assert.strictEqual(ip("link set dev enp32s0 vf 0 max_tx_rate 100"), "ok");
    const vf = h.pf("enp32s0").vfs[0];
    assert.deepStrictEqual(
      [vf.trust, vf.spoofchk, vf.vlan, vf.qos, vf.maxTxRate, vf.linkState],
      [true, false, 100, 3, 100, "auto"],
    );
  });

  it("a port without cable never gets carrier; other drivers keep taking every setting", async () => {
    const hw = igbHost({ cable: false });
    hw.pfs.push({ ...x710Host(1).pfs[0], numVfs: 1 });
    h = await SimHost.start(hw);
    assert.strictEqual(ip("link set dev enp32s0 up"), "ok");
    await new Promise((r) => setTimeout(r, 2300)); // past igb's default autonegotiation time
    assert.deepStrictEqual([attr("carrier"), attr("operstate")], ["0", "down"]);
    assert.strictEqual(ip("link set dev ens1f0 vf 0 state enable"), "ok");
    assert.strictEqual(ip("link set dev ens1f0 vf 0 min_tx_rate 10"), "ok");
    assert.strictEqual(ip("link set dev ens1f0 vf 0 max_tx_rate 100"), "ok", "i40e: no carrier rule in the simulator");
    assert.strictEqual(h.pf("ens1f0").carrier, false);
  });
});
