import { strict as assert } from "assert";
import { SimHost, x710Host } from "../sim/host";

describe("nodeprep: simulated hardware descriptions", () => {
  it("refuses two ports of one NIC whose VF ranges collide (default offsets), naming the fix", async () => {
    const hw = x710Host(1);
    hw.pfs.push({ ...hw.pfs[0], bdf: "0000:10:00.1", name: "ens1f1" });
    await assert.rejects(
      SimHost.start(hw),
      /VF 0 of PF 0000:10:00\.1 would sit at 0000:10:02\.1, already taken by VF 1 of PF 0000:10:00\.0: set a different offset/,
    );
  });

  it("accepts them with the NIC's real offsets (X710: 16 and 79)", async () => {
    const hw = x710Host(1);
    hw.pfs.push({ ...hw.pfs[0], bdf: "0000:10:00.1", name: "ens1f1", offset: 79 });
    const host = await SimHost.start(hw);
    try {
      assert.deepEqual(
        host.state().pfs.map((p) => p.bdf),
        ["0000:10:00.0", "0000:10:00.1"],
      );
    } finally {
      await host.stop();
    }
  });
});
