// SriovNodePrep's remote command over its life under Pulumi mocks: who owns the node, why a
// replacement deletes first, and how a decommissioned node leaves the stack without a dial.
//
// The mocks answer each remote command the way @pulumi/command 1.2 runs it (upstream's
// provider/pkg/provider/remote/commandController.go, and lab/go/command-provider, which the lab's
// engine runs): create runs `create`; an update runs `update`, else `create`, else nothing, and
// keeps the previous stdout; delete runs the stored `delete`, else nothing. Every run dials the
// host first. The commands run for real against a simulated host.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { NodeConnection, SriovNodePrep } from "../../components/nodePrep";
import { NodeState } from "../../render/nodeState";
import { RecordingMocks } from "../harness/mocks";
import { desiredStateOf as stateOf } from "../harness/nodeReports";
import { outputValue as value, unsecret } from "../harness/values";
import { SimHost, simHostPerTest, x710Host } from "../sim/host";
import { allOn, nodeState } from "../sim/states";

interface Stored {
  inputs: Record<string, any>;
  stdout: string;
}

/**
 * One remote.Command's life as @pulumi/command 1.2 runs it. The commands carry the simulated
 * host's roots inline (simulatedHost), so running them locally acts on that host.
 */
class RemoteCommandLife {
  stored?: Stored;
  dials = 0;
  reachable = true;

  private run(command: string): string {
    this.dials++;
    if (!this.reachable) throw new Error("dial tcp 192.0.2.11:22: connect: no route to host");
    const r = spawnSync("/bin/sh", ["-c", command], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, KERNEL_RELEASE: "6.1.0-sim-amd64", LANG: "C" },
    });
    if (r.status !== 0) throw new Error(`remote command exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  }

  /** Create the first time, update afterwards: what `pulumi up` does with a registered resource. */
  up(inputs: Record<string, any>): string {
    if (this.stored === undefined) {
      this.stored = { inputs, stdout: inputs.create !== undefined ? this.run(inputs.create) : "" };
    } else if (JSON.stringify(inputs) !== JSON.stringify(this.stored.inputs)) {
      const command = inputs.update ?? inputs.create;
      this.stored = { inputs, stdout: command !== undefined ? this.run(command) : this.stored.stdout };
    }
    return this.stored.stdout;
  }

  /** The node leaves the stack, or `pulumi destroy`: the stored inputs alone. */
  delete(): void {
    const del = this.stored?.inputs.delete;
    if (del !== undefined) this.run(del);
    this.stored = undefined;
  }
}

describe("nodeprep: SriovNodePrep's remote command over its life (Pulumi mocks)", function () {
  this.timeout(120000);
  const start = simHostPerTest();
  let life: RemoteCommandLife | undefined;
  const mocks = new RecordingMocks((_name, inputs) => (life ? life.up(inputs) : ""));

  before(async () => {
    await mocks.install("test");
  });
  beforeEach(() => {
    mocks.clear();
    life = undefined;
  });

  const connection: NodeConnection = { host: "192.0.2.11", port: 22, user: "root", privateKey: "key" };
  const command = () => {
    const c = mocks.ofType("command:remote:Command");
    return c[c.length - 1];
  };

  function prep(
    h: SimHost,
    state: NodeState,
    decommissioned = false,
    transformations: pulumi.ResourceTransformation[] = [],
  ): SriovNodePrep {
    return new SriovNodePrep(
      "k8s-node1",
      {
        state,
        connection,
        sudo: false,
        decommissioned,
        simulatedHost: { roots: { sysfs: h.sysfs, proc: h.proc, etc: h.etc, dev: h.dev }, pathPrefix: h.bin },
      },
      { transformations },
    );
  }

  it("owns the node as <project>/<stack>/<node entry>, in apply and revert alike", async () => {
    const h = await start(x710Host(1));
    const { owner: _owner, ...ownerless } = nodeState([allOn("ens1f0", 2)]);
    life = new RemoteCommandLife();
    assert.strictEqual(
      (await value(prep(h, ownerless).report)).owner,
      "kubevirt-sriov/test/k8s-node1",
      "the node says who applied",
    );
    const cmd = command();
    for (const verb of ["create", "delete"]) {
      assert.match(stateOf(cmd.inputs[verb]), /^owner kubevirt-sriov\/test\/k8s-node1$/m, verb);
    }
  });

  it("registers the remote command with deleteBeforeReplace (a replacement reverts before it applies)", async () => {
    const h = await start(x710Host(1));
    const seen: pulumi.ResourceTransformationArgs[] = [];
    prep(h, nodeState([allOn("ens1f0", 2)]), false, [
      (a) => {
        seen.push(a);
        return undefined;
      },
    ]);
    const cmd = seen.find((a) => a.type === "command:remote:Command");
    assert.ok(cmd, "the remote command went through the component's transformations");
    assert.strictEqual((cmd.opts as pulumi.CustomResourceOptions).deleteBeforeReplace, true);
  });

  it("decommissioned: the next up stores no command and connects nowhere; removing the node then never dials it", async () => {
    const h = await start(x710Host(1, {}, { numVfs: 2 }));
    life = new RemoteCommandLife();
    const state = nodeState([allOn("ens1f0", 4)]);
    const first = prep(h, state);
    assert.strictEqual((await value(first.report)).node, "k8s-node1");
    assert.strictEqual(h.pf("ens1f0").numVfs, 4, "prepared");
    assert.strictEqual(life.dials, 1);

    // The node is gone for good.
    life.reachable = false;
    const retired = prep(h, state, true);
    assert.strictEqual((await value(retired.report)).node, "k8s-node1", "the outputs keep the last report");
    const inputs = command().inputs;
    assert.deepStrictEqual([inputs.create, inputs.update, inputs.delete], [undefined, undefined, undefined]);
    assert.strictEqual(
      unsecret(inputs.connection).host,
      "192.0.2.11",
      "the connection stays as it was (no diff there)",
    );
    assert.strictEqual(life.dials, 1, "the update ran nothing");
    assert.strictEqual(await value(retired.vfioReady), true);

    life.delete(); // the entry removed, or pulumi destroy
    assert.strictEqual(life.dials, 1, "the delete ran nothing");
    // What the README says stays on the host.
    assert.strictEqual(h.pf("ens1f0").numVfs, 4);
    assert.ok(fs.existsSync(path.join(h.etc, "systemd/system/kubevirt-sriov-vfs.service")));
  });

  it("without it, the stored revert dials the node: an unreachable node blocks the delete", async () => {
    const h = await start(x710Host(1, {}, { numVfs: 2 }));
    life = new RemoteCommandLife();
    await value(prep(h, nodeState([allOn("ens1f0", 4)])).report);
    const stored = life.stored;
    life.reachable = false;
    assert.throws(() => (life as RemoteCommandLife).delete(), /no route to host/);
    life.reachable = true;
    life.stored = stored;
    life.delete();
    assert.strictEqual(h.pf("ens1f0").numVfs, 2, "a reachable node is reverted");
  });

  it("a node that is decommissioned before this stack ever prepared it: a clear error, remove the entry instead", async () => {
    const h = await start(x710Host(1));
    life = new RemoteCommandLife();
    const c = prep(h, nodeState([allOn("ens1f0", 4)]), true);
    await assert.rejects(
      value(c.report),
      (e: unknown) =>
        e instanceof pulumi.ResourceError &&
        /node k8s-node1: decommissioned, but this stack never prepared it \(no report in the state\); cure: remove the node entry instead/.test(
          e.message,
        ),
    );
    assert.strictEqual(life.dials, 0);
    assert.strictEqual(h.pf("ens1f0").numVfs, 0);
  });
});
