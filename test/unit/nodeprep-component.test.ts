// SriovNodePrep wiring under Pulumi mocks: what the remote.Command receives, and the
// typed outputs parsed from its stdout.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { NodeConnection, remoteConnection, SriovNodePrep, vfFingerprint } from "../../components/nodePrep";
import { NodeReport } from "../../render/nodeReport";
import { renderRemoteCommand, renderRevertCommand } from "../../render/nodeState";
import { captureWarnings, RecordedResource, RecordingMocks } from "../harness/mocks";
import { isSecretValue, outputValue as value, unsecret } from "../harness/values";
import { allOn, nodeState } from "../sim/states";

const KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";

const report: NodeReport = {
  schema: 1,
  kernel: "6.1.0-18-amd64",
  iommu: { enabled: true, groups: 40, cmdline: "ro intel_iommu=on iommu=pt" },
  vfio: { loaded: true, loadable: true, conflicts: [] },
  pfs: [
    {
      name: "ens1f0",
      pciAddress: "0000:10:00.0",
      vendor: "0x8086",
      device: "0x1572",
      driver: "i40e",
      totalVfs: 64,
      numVfs: 3,
      numaNode: 0,
      linkState: "up",
      mtu: 9000,
      vfs: [
        { index: 0, pciAddress: "0000:10:02.0", driver: "vfio-pci", iommuGroup: "12" },
        { index: 1, pciAddress: "0000:10:02.1", driver: "vfio-pci", iommuGroup: "13" },
        { index: 2, pciAddress: "0000:10:02.2", driver: "iavf", iommuGroup: "14" },
      ],
    },
    {
      name: "eno1",
      pciAddress: "0000:30:00.0",
      vendor: "0x8086",
      device: "0x1533",
      driver: "igb",
      totalVfs: 7,
      numVfs: 0,
      numaNode: 0,
      linkState: "up",
      mtu: 1500,
      vfs: [],
    },
  ],
  verb: "apply",
  node: "k8s-node1",
  apply: { writes: 12, changedPfs: ["0000:10:00.0"] },
  resolved: [],
  kernelChanges: ["default_hugepagesz=1G", "hugepagesz=1G", "hugepages=8"],
  rebootRequired: true,
  vfioReady: true,
};

let stdout = "";
const mocks = new RecordingMocks(() => stdout);

describe("nodeprep: SriovNodePrep component (Pulumi mocks)", () => {
  before(async () => {
    await mocks.install("test");
  });
  beforeEach(() => {
    mocks.clear();
    stdout = `progress\n${JSON.stringify(report)}\n`;
  });

  const state = nodeState([allOn("ens1f0", 3)]);
  const connection: NodeConnection = {
    host: "10.0.0.11",
    port: 22,
    user: "root",
    privateKey: KEY,
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
    proxy: {
      host: "bastion.example",
      port: 2222,
      user: "jump",
      password: "bastion-password",
      hostKey: "ssh-ed25519 AAAAjump",
    },
    dialErrorLimit: 3,
    perDialTimeout: 20,
  };

  async function settle(c: SriovNodePrep): Promise<RecordedResource> {
    await value(c.vfFingerprint);
    const cmds = mocks.ofType("command:remote:Command");
    assert.strictEqual(cmds.length, 1);
    return cmds[0];
  }

  it("runs apply on create and update, revert on delete, as one child named after the component", async () => {
    const c = new SriovNodePrep("node1", { state, connection });
    const cmd = await settle(c);
    assert.strictEqual(cmd.name, "node1-sriov");
    assert.strictEqual(cmd.inputs.create, renderRemoteCommand("apply", state));
    assert.strictEqual(
      cmd.inputs.update,
      undefined,
      "a change re-runs create in place; the script is not stored a third time",
    );
    assert.strictEqual(cmd.inputs.triggers, undefined, "nothing replaces (create new, then revert old)");
    assert.strictEqual(
      cmd.inputs.delete,
      renderRevertCommand(state),
      "delete reverts with the host's copy of the script",
    );
    assert.ok(!cmd.inputs.delete.includes("KUBEVIRT_SRIOV_SCRIPT"), "the script is stored once per node, in create");
    assert.ok(cmd.inputs.delete.length < cmd.inputs.create.length / 10);
    assert.strictEqual(cmd.inputs.addPreviousOutputInEnv, false);
    assert.ok(!cmd.inputs.create.includes("sudo"), "root needs no sudo");
    const comp = mocks.resources.find((r) => r.type === "kubevirt-sriov:node:SriovNodePrep");
    assert.deepStrictEqual(comp?.inputs, {}, "no args (with their secrets) are registered on the component");
  });

  it("passes the connection with the key and passwords secret and never in a command string", async () => {
    const cmd = await settle(new SriovNodePrep("node1", { state, connection }));
    assert.ok(isSecretValue(cmd.inputs.connection), "the connection is a secret input");
    const v = unsecret(cmd.inputs.connection);
    assert.deepStrictEqual(
      [v.host, v.port, v.user, v.privateKey, v.hostKey, v.dialErrorLimit, v.perDialTimeout],
      ["10.0.0.11", 22, "root", KEY, connection.hostKey, 3, 20],
    );
    assert.deepStrictEqual(
      [v.proxy.host, v.proxy.port, v.proxy.user, v.proxy.password, v.proxy.hostKey],
      ["bastion.example", 2222, "jump", "bastion-password", "ssh-ed25519 AAAAjump"],
    );
    for (const field of ["create", "delete"]) {
      assert.ok(!cmd.inputs[field].includes("PRIVATE KEY") && !cmd.inputs[field].includes("bastion-password"), field);
    }
  });

  it("wraps every credential in pulumi.secret itself, even when given as plaintext", async () => {
    const conn = remoteConnection(connection);
    const proxy = conn.proxy as { password?: pulumi.Input<string>; privateKey?: pulumi.Input<string> };
    assert.strictEqual(await pulumi.isSecret(pulumi.output(conn.privateKey)), true);
    assert.strictEqual(await pulumi.isSecret(pulumi.output(proxy.password)), true);
    assert.strictEqual(conn.password, undefined, "absent credentials stay absent (SSH agent)");
    assert.strictEqual(proxy.privateKey, undefined);
    const c = new SriovNodePrep("node2", { state, connection });
    assert.strictEqual(await pulumi.isSecret(c.report), false, "the report carries no secret, so it stays readable");
  });

  it("uses sudo for a non-root SSH user", async () => {
    const cmd = await settle(new SriovNodePrep("node3", { state, connection: { ...connection, user: "ubuntu" } }));
    assert.strictEqual(cmd.inputs.create, renderRemoteCommand("apply", state, { sudo: true }));
    assert.match(cmd.inputs.delete, /\nsudo -n env bash "\$s" revert <"\$d\/state"\n'$/);
  });

  it("can point the script at a simulated host (lab), inline in the same command", async () => {
    const simulatedHost = { roots: { sysfs: "/tmp/lab/sys", etc: "/tmp/lab/etc" }, pathPrefix: "/tmp/lab/bin" };
    const cmd = await settle(new SriovNodePrep("node7", { state, connection, sudo: false, simulatedHost }));
    assert.strictEqual(cmd.inputs.create, renderRemoteCommand("apply", state, { sudo: false, ...simulatedHost }));
    assert.match(
      cmd.inputs.create,
      /\nSYSFS_ROOT=\/tmp\/lab\/sys ETC_ROOT=\/tmp\/lab\/etc PATH=\/tmp\/lab\/bin:\$PATH bash /,
    );
  });

  it("exposes the parsed report as typed outputs", async () => {
    const c = new SriovNodePrep("node1", { state, connection });
    assert.deepStrictEqual(await value(c.report), report);
    assert.deepStrictEqual(await value(c.kernelChanges), report.kernelChanges);
    assert.strictEqual(await value(c.vfioReady), true);
    assert.strictEqual(await value(c.rebootRequired), true);
    const pfs = await value(c.physicalFunctions);
    assert.deepStrictEqual(
      pfs.map((p) => [p.name, p.numVfs, p.drivers]),
      [
        ["ens1f0", 3, ["iavf", "vfio-pci"]],
        ["eno1", 0, []],
      ],
    );
    const fp = await value(c.vfFingerprint);
    assert.match(fp, /^[0-9a-f]{16}$/);
    assert.strictEqual(fp, vfFingerprint(report.pfs, state));
    assert.deepStrictEqual(await value(c.vfioConflicts), []);
  });

  it("passes on the node's IOMMU-group conflicts (and warns about them)", async () => {
    const conflict =
      "PF ens1f0 (0000:10:00.0): 3 vfio-pci VFs share an IOMMU group with devices on other drivers (group 12: 0000:10:00.0 (i40e)), so no VM can use them; cure: ...";
    stdout = JSON.stringify({ ...report, vfioReady: false, vfio: { ...report.vfio, conflicts: [conflict] } });
    const logged = captureWarnings();
    try {
      const c = new SriovNodePrep("node1", { state, connection });
      assert.deepStrictEqual(await value(c.vfioConflicts), [conflict]);
      assert.strictEqual(await value(c.vfioReady), false);
    } finally {
      logged.stop();
    }
    assert.deepStrictEqual(logged.warnings, [`node k8s-node1: ${conflict}`]);
  });

  it("vfFingerprint follows the VF layout of the managed PFs only", () => {
    const base = vfFingerprint(report.pfs, state);
    const rebound = JSON.parse(JSON.stringify(report.pfs));
    rebound[0].vfs[2].driver = "vfio-pci";
    assert.notStrictEqual(vfFingerprint(rebound, state), base);
    const regrouped = JSON.parse(JSON.stringify(report.pfs));
    regrouped[0].vfs[0].iommuGroup = "99";
    assert.notStrictEqual(vfFingerprint(regrouped, state), base, "new IOMMU groups need a device plugin restart");
    const otherPf = JSON.parse(JSON.stringify(report.pfs));
    otherPf[1].numVfs = 4;
    otherPf[1].linkState = "down";
    assert.strictEqual(vfFingerprint(otherPf, state), base, "a PF this state does not manage does not count");
    assert.strictEqual(vfFingerprint([...report.pfs].reverse(), state), base, "order does not matter");
  });

  it("turns a malformed stdout into a ResourceError naming the node", async () => {
    stdout = "apply: 3 writes\nnot json at all\n";
    const c = new SriovNodePrep("node4", { state, connection });
    for (const o of [
      c.report,
      c.physicalFunctions,
      c.kernelChanges,
      c.rebootRequired,
      c.vfioReady,
      c.vfFingerprint,
    ] as pulumi.Output<unknown>[]) {
      // (The SDK prefixes the message in place when registerOutputs serializes the output.)
      await assert.rejects(
        value(o),
        (e: unknown) =>
          e instanceof pulumi.ResourceError &&
          /node k8s-node1: node report: the last line of stdout is not JSON .*not json at all/.test(e.message),
      );
    }
  });

  it("turns an invalid state into a ResourceError naming the node, before any command exists", () => {
    assert.throws(
      () => new SriovNodePrep("node5", { state: nodeState([allOn("ens1f0;reboot", 2)]), connection }),
      (e: unknown) => e instanceof pulumi.ResourceError && /^node k8s-node1: node state pfs\[0\]\.name/.test(e.message),
    );
    assert.throws(
      () => new SriovNodePrep("node6", { state, connection: { ...connection, port: 0 } }),
      (e: unknown) => e instanceof pulumi.ResourceError && /port 1-65535/.test(e.message),
    );
    assert.ok(!mocks.resources.some((r) => r.type === "command:remote:Command"));
  });
});
