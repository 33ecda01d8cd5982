import * as assert from "assert";
import { ConfigError } from "../../config/errors";
import { parsePlatform } from "../../config/validate";
import { assertFeasible, planPlatform } from "../../plan";
import { loadStackConfig } from "../harness/stacks";
import { node, platform, vm } from "../fixtures/configs";

const placementOf = (plan: ReturnType<typeof planPlatform>) =>
  Object.fromEntries(plan.placement.map((p) => [p.vm, p.node]));

describe("planner: kubecon-demo", () => {
  const model = parsePlatform(loadStackConfig("kubecon-demo"));
  const plan = planPlatform(model);

  it("is feasible with both VMs on the one worker", () => {
    assert.strictEqual(plan.feasible, true);
    assert.deepStrictEqual(plan.errors, []);
    assert.deepStrictEqual(placementOf(plan), { "default/pbx": "k8s-node1", "default/sipp": "k8s-node1" });
  });

  it("counts VF supply and demand per pool and node", () => {
    assert.deepStrictEqual(
      plan.pools.map((p) => [p.pool, p.resource, p.supply, p.demand, p.byNode]),
      [
        ["sriov_net_A", "intel.com/sriov_net_A", 16, 2, [{ node: "k8s-node1", supply: 16, requested: 2, free: 14 }]],
        ["sriov_net_B", "intel.com/sriov_net_B", 16, 0, [{ node: "k8s-node1", supply: 16, requested: 0, free: 16 }]],
      ],
    );
  });

  it("takes vCPUs + 1 emulator thread as dedicated CPUs and memory as 1Gi pages", () => {
    assert.deepStrictEqual(plan.nodes, [
      {
        node: "k8s-node1",
        dedicatedCpus: { supply: 16, requested: 6, free: 10 },
        hugepages1Gi: { supply: 16, requested: 4, free: 12 },
        hugepages2Mi: { supply: 0, requested: 0, free: 0 },
      },
    ]);
  });

  it("reports the injection gate as disabled for v1.9 and CPUManager enabled for the pinned VMs", () => {
    assert.deepStrictEqual(plan.kubevirt, {
      version: "v1.9.0",
      externalNetResourceInjection: "disabled",
      featureGates: ["CPUManager"],
    });
  });

  it("is JSON-serializable as it is", () => {
    assert.deepStrictEqual(JSON.parse(JSON.stringify(plan)), plan);
  });
});

describe("planner: VF demand above supply", () => {
  const raw = platform({
    nodes: [
      node("node-1", {
        physicalFunctions: [
          { pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A" },
          { pciAddress: "0000:02:00.1", numVfs: 8, pool: "sriov_net_A" },
        ],
        capacity: { dedicatedCpus: 200, hugepages1Gi: 200 },
      }),
    ],
    vms: Array.from({ length: 10 }, (_, i) => vm(`vm-${i}`, ["net-a", "net-a2"])),
  });
  const plan = planPlatform(parsePlatform(raw));

  it("fails with a message naming the pool, the demand and the supply", () => {
    assert.strictEqual(plan.feasible, false);
    assert.throws(
      () => assertFeasible(plan, false),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(
          e.message,
          /kubevirt-sriov:platform\.pools\[0\]: pool "sriov_net_A": VMs request 20 VFs but the nodes supply 16 — add VFs \(numVfs\) or nodes, or lower the demand/,
        );
        return true;
      },
    );
  });

  it("places what fits and says why the rest does not", () => {
    const unplaced = plan.placement.filter((p) => p.node === null);
    assert.strictEqual(unplaced.length, 2);
    for (const p of unplaced)
      assert.match(
        p.reason ?? "",
        /VFs of pool "sriov_net_A" short on all 1 matching node \(needs 2, most free 0 on node-1\)/,
      );
    assert.ok(plan.errors.some((e) => e.path.join(".") === "vms.8" && /fits on no node/.test(e.problem)));
  });

  it("with allowOvercommit returns the problems as warnings", () => {
    const warnings = assertFeasible(plan, true);
    assert.ok(
      warnings.some(
        (w) =>
          w.includes('pool "sriov_net_A": VMs request 20 VFs but the nodes supply 16') &&
          w.endsWith("(allowed by allowOvercommit)"),
      ),
    );
  });
});

describe("planner: first-fit-decreasing placement", () => {
  it("places bigger VMs first, onto nodes in config order", () => {
    const raw = platform({
      nodes: [
        node("node-1", { capacity: { dedicatedCpus: 12, hugepages1Gi: 64 } }),
        node("node-2", { capacity: { dedicatedCpus: 12, hugepages1Gi: 64 } }),
      ],
      // Plain first-fit in config order would put small+big on node-1 and mid on node-2;
      // FFD takes big (7 CPUs) and mid (5) onto node-1 and small (4) onto node-2.
      vms: [vm("small", ["net-a"], { cpus: 3 }), vm("big", ["net-a"], { cpus: 6 }), vm("mid", ["net-a"], { cpus: 4 })],
    });
    const plan = planPlatform(parsePlatform(raw));
    assert.deepStrictEqual(placementOf(plan), {
      "default/small": "node-2",
      "default/big": "node-1",
      "default/mid": "node-1",
    });
    assert.strictEqual(plan.feasible, true);
  });

  it("orders by VFs before CPUs, and breaks ties by ref", () => {
    const raw = platform({
      nodes: [
        node("node-1", { capacity: { dedicatedCpus: 3, hugepages1Gi: 64 } }),
        node("node-2", { capacity: { dedicatedCpus: 3, hugepages1Gi: 64 } }),
      ],
      vms: [vm("b", ["net-a"]), vm("a", ["net-a"]), vm("two-vfs", ["net-a", "net-a2"])],
    });
    const plan = planPlatform(parsePlatform(raw));
    assert.deepStrictEqual(placementOf(plan), {
      "default/two-vfs": "node-1",
      "default/a": "node-2",
      "default/b": null,
    });
  });

  it("honours the VM's nodeSelector against labels and kubernetes.io/hostname", () => {
    const raw = platform({
      nodes: [node("node-1"), node("node-2", { labels: { zone: "b" } }), node("node-3")],
      vms: [
        vm("zoned", ["net-a"], { nodeSelector: { zone: "b" } }),
        vm("pinned", ["net-a"], { nodeSelector: { "kubernetes.io/hostname": "node-3" } }),
        vm("nowhere", ["net-a"], { nodeSelector: { zone: "z" } }),
      ],
    });
    const plan = planPlatform(parsePlatform(raw));
    assert.deepStrictEqual(placementOf(plan), {
      "default/zoned": "node-2",
      "default/pinned": "node-3",
      "default/nowhere": null,
    });
    assert.match(plan.placement[2].reason ?? "", /no node matches the node selector \{zone=z\}/);
  });

  it("sees the labels the program applies itself: the SR-IOV node label, in a VM's and in the workloads' selector", () => {
    const raw = platform({
      kubevirt: { workloads: { nodeSelector: { "kubevirt-sriov/sriov-node": "true" } } },
      nodes: [node("node-1")],
      vms: [
        vm("pbx", ["net-a"], { nodeSelector: { "kubevirt-sriov/sriov-node": "true" } }),
        vm("off", ["net-a"], { nodeSelector: { "kubevirt-sriov/sriov-node": "false" } }),
      ],
    });
    const plan = planPlatform(parsePlatform(raw));
    assert.deepStrictEqual(placementOf(plan), { "default/pbx": "node-1", "default/off": null });
  });

  it("adds kubevirt.workloads.nodeSelector to every VM's selector", () => {
    const raw = platform({
      kubevirt: { workloads: { nodeSelector: { "voip/workers": "true" } } },
      nodes: [node("node-1"), node("node-2", { labels: { "voip/workers": "true" } })],
      vms: [vm("x", ["net-a"]), vm("clash", ["net-a"], { nodeSelector: { "voip/workers": "false" } })],
    });
    const plan = planPlatform(parsePlatform(raw));
    assert.deepStrictEqual(placementOf(plan), { "default/x": "node-2", "default/clash": null });
    assert.match(plan.placement[1].reason ?? "", /contradicts kubevirt\.workloads\.nodeSelector/);
  });

  it("counts dedicated CPUs with and without the emulator thread, and none without pinning", () => {
    const raw = platform({
      nodes: [node("node-1", { capacity: { dedicatedCpus: 7, hugepages1Gi: 64 } })],
      vms: [
        vm("iso", ["net-a"], { cpus: 2 }),
        vm("noiso", ["net-a"], { cpus: 2, tuning: { isolateEmulatorThread: false } }),
        vm("shared", ["net-a"], { cpus: 8, tuning: { dedicatedCpus: false, isolateEmulatorThread: false } }),
        vm("big", ["net-a"], { cpus: 3 }),
      ],
    });
    const plan = planPlatform(parsePlatform(raw));
    // big 3+1 and iso 2+1 take all 7; noiso (2) is left over; shared pins nothing.
    assert.deepStrictEqual(placementOf(plan), {
      "default/iso": "node-1",
      "default/noiso": null,
      "default/shared": "node-1",
      "default/big": "node-1",
    });
    assert.match(
      plan.placement[1].reason ?? "",
      /dedicated CPUs short on all 1 matching node \(needs 2, most free 0 on node-1\)/,
    );
    assert.deepStrictEqual(plan.nodes[0].dedicatedCpus, { supply: 7, requested: 7, free: 0 });
  });

  it("counts hugepages of the VM's page size", () => {
    const raw = platform({
      nodes: [node("node-1", { capacity: { dedicatedCpus: 64, hugepages1Gi: 2, hugepages2Mi: 1024 } })],
      vms: [
        vm("gi", ["net-a"], { memory: "2Gi" }),
        vm("mi", ["net-a"], { memory: "2Gi", tuning: { hugepages: "2Mi" } }),
        vm("none", ["net-a"], { memory: "64Gi", tuning: { hugepages: "none" } }),
        vm("over", ["net-a"], { memory: "1Gi", tuning: { hugepages: "2Mi" } }),
      ],
    });
    const plan = planPlatform(parsePlatform(raw));
    assert.deepStrictEqual(placementOf(plan), {
      "default/gi": "node-1",
      "default/mi": "node-1",
      "default/none": "node-1",
      "default/over": null,
    });
    assert.deepStrictEqual(plan.nodes[0].hugepages2Mi, { supply: 1024, requested: 1024, free: 0 });
    assert.match(plan.placement[3].reason ?? "", /2Mi hugepages short/);
    assert.ok(plan.errors.some((e) => /VMs request 1536 2Mi hugepages but the nodes supply 1024/.test(e.problem)));
  });

  it("needs all resources on one node, and says so", () => {
    const raw = platform({
      pools: [{ name: "sriov_net_A" }, { name: "pool_b" }],
      networks: [
        { name: "net-a", pool: "sriov_net_A" },
        { name: "net-b", pool: "pool_b" },
      ],
      nodes: [
        node("node-1"),
        node("node-2", { physicalFunctions: [{ pciAddress: "0000:02:00.0", numVfs: 8, pool: "pool_b" }] }),
      ],
      vms: [vm("both", ["net-a", "net-b"])],
    });
    const plan = planPlatform(parsePlatform(raw));
    assert.strictEqual(plan.placement[0].node, null);
    assert.match(plan.placement[0].reason ?? "", /no single node has all of them/);
    // Pool totals are fine: only placement fails.
    assert.ok(!plan.errors.some((e) => e.path[0] === "pools"));
  });

  it("names at most 20 unplaced VMs and counts the rest", () => {
    const raw = platform({
      vms: Array.from({ length: 30 }, (_, i) => vm(`v${i}`, ["net-a"], { nodeSelector: { no: "where" } })),
    });
    const plan = planPlatform(parsePlatform(raw));
    const vmErrors = plan.errors.filter((e) => e.path[0] === "vms");
    assert.strictEqual(vmErrors.length, 21);
    assert.match(vmErrors[20].problem, /^10 more VMs fit on no node/);
    assert.strictEqual(plan.placement.filter((p) => p.reason).length, 30);
  });
});

describe("planner: scale", () => {
  it("plans 2,000 nodes and 8,000 VMs (and an overloaded fleet) to completion", function () {
    this.timeout(120000);
    const nodes = Array.from({ length: 2000 }, (_, i) =>
      node(`n${i}`, {
        labels: { rack: `r${i % 40}` },
        capacity: { dedicatedCpus: 24, hugepages1Gi: 32, hugepages2Mi: 0 },
        physicalFunctions: [
          { pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A" },
          { pciAddress: "0000:02:00.1", numVfs: 8, pool: "pool_b" },
        ],
      }),
    );
    const vms = Array.from({ length: 8000 }, (_, i) =>
      vm(`vm${i}`, i % 3 === 0 ? ["net-a", "net-b"] : ["net-a"], {
        cpus: 1 + (i % 4),
        memory: `${1 + (i % 4)}Gi`,
        nodeSelector: i % 5 === 0 ? { rack: `r${i % 40}` } : {},
      }),
    );
    const base = {
      pools: [{ name: "sriov_net_A" }, { name: "pool_b" }],
      networks: [
        { name: "net-a", pool: "sriov_net_A" },
        { name: "net-b", pool: "pool_b" },
      ],
    };
    const plan = planPlatform(parsePlatform(platform({ ...base, nodes, vms })));
    assert.strictEqual(plan.placement.length, 8000);
    assert.strictEqual(plan.placement.filter((p) => p.node !== null).length, 8000);
    assert.strictEqual(plan.feasible, true);

    const crowded = planPlatform(parsePlatform(platform({ ...base, nodes: nodes.slice(0, 400), vms })));
    assert.strictEqual(crowded.feasible, false);
    assert.ok(crowded.placement.some((p) => p.node === null));
    assert.ok(
      crowded.errors.some((e) => /pool "sriov_net_A": VMs request 8000 VFs but the nodes supply 3200/.test(e.problem)),
    );
  });
});
