// The stack's delete (renderRevertCommand) reverts with the copy of the script that apply
// installed on the host, carrying only the desired state: a fully applied host, a host an
// apply stopped on halfway, a host never touched, a host an apply refused.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  NodeState,
  RemoteCommandOptions,
  renderRemoteCommand,
  renderRevertCommand,
  renderStateLines,
} from "../../render/nodeState";
import { RunResult, SimHost, simHostPerTest, x710Host } from "../sim/host";
import { allOn, nodeState } from "../sim/states";

describe("nodeprep: delete reverts with the host's copy of the script", function () {
  this.timeout(120000);
  const start = simHostPerTest();

  // What SriovNodePrep sends to a simulated host: its roots and shims inline in the command.
  const opts = (h: SimHost): RemoteCommandOptions => ({
    roots: { sysfs: h.sysfs, proc: h.proc, etc: h.etc, dev: h.dev },
    pathPrefix: h.bin,
  });
  function remote(command: string): RunResult {
    const r = spawnSync("/bin/sh", ["-c", command], { encoding: "utf8", env: { PATH: process.env.PATH, LANG: "C" } });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }
  const applyOver = (h: SimHost, s: NodeState) => remote(renderRemoteCommand("apply", s, opts(h)));
  const revertOver = (h: SimHost, s: NodeState) => remote(renderRevertCommand(s, opts(h)));
  const stateDir = (h: SimHost) => path.join(h.etc, "kubevirt-sriov");
  const copy = (h: SimHost) => path.join(stateDir(h), "sriov-node.sh");
  const unit = (h: SimHost) => path.join(h.etc, "systemd", "system", "kubevirt-sriov-vfs.service");

  it("carries the state but not the script: a fraction of the apply command", () => {
    const s = nodeState([allOn("ens1f0", 4)]);
    const cmd = renderRevertCommand(s);
    assert.ok(!cmd.includes("KUBEVIRT_SRIOV_SCRIPT"));
    assert.ok(cmd.includes(Buffer.from(renderStateLines(s)).toString("base64").slice(0, 60)));
    assert.ok(
      Buffer.byteLength(cmd) * 10 < Buffer.byteLength(renderRemoteCommand("apply", s)),
      `${Buffer.byteLength(cmd)} bytes`,
    );
    assert.ok(!cmd.slice("sh -c '".length, -2).includes("'"), "no single quote inside sh -c '...'");
    assert.strictEqual(
      renderRevertCommand(s),
      renderRevertCommand(nodeState([allOn("ens1f0", 4)])),
      "deterministic: no diff, no run",
    );
    assert.match(renderRevertCommand(s, { sudo: true }), /\nsudo -n env bash "\$s" revert <"\$d\/state"\n'$/);
    assert.throws(() => renderRevertCommand(s, { roots: { etc: "/tmp/x'; reboot" } }), /roots\.etc/);
  });

  it("reverts a fully applied host: PFs as they were, the copy, unit and state gone", async () => {
    const h = await start(x710Host(2, {}, { numVfs: 1 }));
    const s = nodeState([allOn("ens1f0", 6), allOn("ens2f0", 3, "netdevice")]);
    const a = applyOver(h, s);
    assert.strictEqual(a.status, 0, a.stderr);
    assert.ok(fs.existsSync(copy(h)));
    assert.strictEqual(
      fs.readFileSync(copy(h), "utf8"),
      fs.readFileSync(path.join(__dirname, "..", "..", "node", "sriov-node.sh"), "utf8"),
    );
    const r = revertOver(h, s);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /revert: \d+ writes/);
    assert.deepStrictEqual([h.pf("ens1f0").numVfs, h.pf("ens2f0").numVfs], [1, 1]);
    assert.deepStrictEqual(
      h.pf("ens1f0").vfs.map((v) => v.driver),
      ["iavf"],
    );
    assert.ok(!fs.existsSync(stateDir(h)), "the copy went with the last owner");
    assert.ok(!fs.existsSync(unit(h)));
    const again = revertOver(h, s);
    assert.strictEqual(again.status, 0, again.stderr);
    assert.match(again.stderr, /nothing to revert/);
  });

  it("reverts a half-applied host: apply stopped at its second PF, the first PF and the grub snippet go back", async () => {
    const h = await start(
      x710Host(
        2,
        {
          faults: [{ op: "numvfs", pf: "ens2f0", times: 1, errno: "EIO" }],
          cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro",
        },
        { numVfs: 2 },
      ),
    );
    const s = nodeState([allOn("ens1f0", 6), allOn("ens2f0", 4)], {
      kernel: { iommu: "intel", hugepages1G: 0, hugepages2M: 0, writeBootloader: true },
    });
    const a = applyOver(h, s);
    assert.strictEqual(a.status, 3, a.stderr);
    assert.match(a.stderr, /ens2f0/);
    // Halfway: the first PF has its new VFs, the second is at 0 (the write to 0 went through, 4 failed).
    assert.strictEqual(h.pf("ens1f0").numVfs, 6);
    assert.ok(fs.existsSync(copy(h)), "the copy is installed before the first write");
    assert.ok(!fs.existsSync(unit(h)), "the boot unit comes only with a finished apply");
    assert.ok(
      !fs.existsSync(path.join(stateDir(h), "state")),
      "no saved state: the boot unit must not re-apply a failed apply",
    );
    const grub = path.join(h.etc, "default", "grub.d", "kubevirt-sriov.cfg");
    assert.ok(fs.existsSync(grub), "the grub snippet was written before the PFs");

    const r = revertOver(h, s);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(
      [h.pf("ens1f0").numVfs, h.pf("ens2f0").numVfs],
      [2, 2],
      "both PFs back to what the first apply found",
    );
    assert.deepStrictEqual(
      h.pf("ens1f0").vfs.map((v) => v.driver),
      ["iavf", "iavf"],
    );
    assert.ok(!fs.existsSync(stateDir(h)));
    assert.ok(!fs.existsSync(grub));
  });

  it("a host never touched: nothing to revert, nothing written", async () => {
    const h = await start(x710Host(1, {}, { numVfs: 2 }));
    const r = revertOver(h, nodeState([allOn("ens1f0", 4)]));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /nothing to revert/);
    assert.deepStrictEqual(h.writes(), []);
    assert.ok(!fs.existsSync(stateDir(h)));
  });

  it("an apply refused before any write leaves no copy behind, and the revert finds nothing", async () => {
    const h = await start(x710Host(1, {}, { numVfs: 0 }));
    const refused = applyOver(h, nodeState([allOn("ens1f0", 65)]));
    assert.strictEqual(refused.status, 2, refused.stderr);
    assert.ok(!fs.existsSync(stateDir(h)), "nothing of ours on the host");
    const r = revertOver(h, nodeState([allOn("ens1f0", 65)]));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /nothing to revert/);
  });

  it("an apply refused after writing the grub snippet keeps the copy, so the revert removes the snippet", async () => {
    // IOMMU off: the snippet is the cure, written although the apply is refused.
    const h = await start(x710Host(1, { iommu: false, cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro" }));
    const s = nodeState([allOn("ens1f0", 4)], {
      kernel: { iommu: "intel", hugepages1G: 0, hugepages2M: 0, writeBootloader: true },
    });
    const refused = applyOver(h, s);
    assert.strictEqual(refused.status, 2, refused.stderr);
    const grub = path.join(h.etc, "default", "grub.d", "kubevirt-sriov.cfg");
    assert.ok(fs.existsSync(grub));
    assert.ok(fs.existsSync(copy(h)));
    const r = revertOver(h, s);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(grub));
    assert.ok(!fs.existsSync(stateDir(h)));
  });

  it("a host with our files but no copy is refused with exit 3 and a cure, not called clean", async () => {
    const h = await start(x710Host(1));
    fs.mkdirSync(path.join(h.etc, "kubevirt-sriov", "original"), { recursive: true });
    const r = revertOver(h, nodeState([allOn("ens1f0", 4)]));
    assert.strictEqual(r.status, 3);
    assert.match(r.stderr, /has kubevirt-sriov files but no .*sriov-node\.sh to revert with; cure: re-run pulumi up/);
  });

  it("with two owners on the host, the copy stays for the other one", async () => {
    const h = await start(x710Host(2));
    const test = nodeState([allOn("ens1f0", 2)]);
    const prod = nodeState([allOn("ens2f0", 3)], { owner: "kubevirt-sriov/prod/k8s-node1" });
    assert.strictEqual(applyOver(h, test).status, 0);
    assert.strictEqual(applyOver(h, prod).status, 0);
    const r = revertOver(h, test);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual([h.pf("ens1f0").numVfs, h.pf("ens2f0").numVfs], [0, 3]);
    assert.ok(fs.existsSync(copy(h)) && fs.existsSync(unit(h)));
    assert.strictEqual(revertOver(h, prod).status, 0);
    assert.ok(!fs.existsSync(stateDir(h)));
  });
});
