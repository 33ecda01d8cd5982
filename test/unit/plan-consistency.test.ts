import * as assert from "assert";
import { ConfigError } from "../../config/errors";
import { parsePlatform } from "../../config/validate";
import { assertFeasible, DiscoveredNode, planPlatform } from "../../plan";
import { node, platform, vm } from "../fixtures/configs";

const plan = (raw: unknown, discovery?: Map<string, DiscoveredNode>) => planPlatform(parsePlatform(raw), discovery);

describe("planner: consistency", () => {
  it("warns about pools without members and networks on them", () => {
    const p = plan(
      platform({
        pools: [{ name: "sriov_net_A" }, { name: "empty" }],
        networks: [
          { name: "net-a", pool: "sriov_net_A" },
          { name: "dead", pool: "empty" },
        ],
      }),
    );
    assert.strictEqual(p.feasible, true);
    assert.deepStrictEqual(p.warnings, [
      'kubevirt-sriov:platform.pools[1]: pool "empty" has no VFs on any node — give it VFs (physicalFunctions[].pool or ranges) or remove it',
      'kubevirt-sriov:platform.networks[1].pool: network "default/dead" uses pool "empty" (resource intel.com/empty) that no node supplies VFs to, so the device plugin never advertises it — give the pool VFs on some node, or point the network at another pool',
    ]);
  });

  it("warns when a host-local network's pool has VFs on more than one node (each node allocates on its own), not on one node", () => {
    const hostLocal = { type: "host-local" as const, subnet: "10.56.0.0/24" };
    const two = plan(
      platform({
        nodes: [node("node-1"), node("node-2")],
        networks: [{ name: "net-a", pool: "sriov_net_A", ipam: hostLocal }],
      }),
    );
    assert.deepStrictEqual(two.warnings, [
      'kubevirt-sriov:platform.networks[0].ipam.type: network "default/net-a" uses host-local IPAM, but pool "sriov_net_A" has VFs on 2 nodes (node-1, node-2) and host-local allocates on each node on its own, so pods on different nodes get the same addresses — use whereabouts (one allocation across the cluster) or static IPAM with an address per pod; host-local suits a pool on one node',
    ]);
    assert.deepStrictEqual(
      plan(platform({ networks: [{ name: "net-a", pool: "sriov_net_A", ipam: hostLocal }] })).warnings,
      [],
    );
    const whereabouts = { type: "whereabouts" as const, range: "10.56.0.0/24" };
    assert.deepStrictEqual(
      plan(
        platform({
          nodes: [node("node-1"), node("node-2")],
          networks: [{ name: "net-a", pool: "sriov_net_A", ipam: whereabouts }],
        }),
      ).warnings,
      [],
    );
  });

  it("refuses VMs with dedicated CPUs when the stack disables KubeVirt's CPUManager gate; reports the gates it enables", () => {
    const raw = platform({ vms: [vm("pbx"), vm("lg")] });
    const ok = plan(raw);
    assert.deepStrictEqual(ok.kubevirt.featureGates, ["CPUManager"]);
    const p = plan({ ...raw, kubevirt: { disabledFeatureGates: ["Snapshot", "CPUManager"] } });
    assert.strictEqual(p.feasible, false);
    assert.deepStrictEqual(
      p.errors.map((e) => [e.kind, e.path.join("."), e.problem, e.fix]),
      [
        [
          "consistency",
          "kubevirt.disabledFeatureGates.1",
          "2 VMs (first default/pbx) set tuning.dedicatedCpus, which needs KubeVirt's CPUManager feature gate, but the stack disables it: virt-handler then labels every node kubevirt.io/cpumanager=false and those VMs stay Pending",
          "remove CPUManager from kubevirt.disabledFeatureGates (the program enables it), or set tuning.dedicatedCpus: false on those VMs",
        ],
      ],
    );
    assert.throws(() => assertFeasible(p, true), ConfigError);
    const noPinning = plan({
      ...raw,
      vms: [vm("pbx", ["net-a"], { tuning: { dedicatedCpus: false, isolateEmulatorThread: false } })],
      kubevirt: { disabledFeatureGates: ["CPUManager"] },
    });
    assert.strictEqual(noPinning.feasible, true);
    assert.deepStrictEqual(noPinning.kubevirt.featureGates, []);
  });

  it("refuses NUMA passthrough with the NUMA gate disabled before v1.4.0 only (GA since)", () => {
    const numaVm = vm("pbx", ["net-a"], { tuning: { numaPassthrough: true } });
    const old = plan(platform({ vms: [numaVm], kubevirt: { version: "v1.3.1", disabledFeatureGates: ["NUMA"] } }));
    assert.deepStrictEqual(
      old.errors.map((e) => e.path.join(".")),
      ["kubevirt.disabledFeatureGates.0"],
    );
    assert.match(
      old.errors[0].problem,
      /VM default\/pbx sets tuning\.numaPassthrough, which needs KubeVirt's NUMA feature gate/,
    );
    assert.deepStrictEqual(plan(platform({ vms: [numaVm], kubevirt: { version: "v1.3.1" } })).kubevirt.featureGates, [
      "CPUManager",
      "NUMA",
    ]);
    assert.strictEqual(plan(platform({ vms: [numaVm], kubevirt: { disabledFeatureGates: ["NUMA"] } })).feasible, true);
  });

  it("has no warnings when every pool has VFs and every network a supplied pool", () => {
    assert.deepStrictEqual(plan(platform()).warnings, []);
  });

  it("refuses a network MTU above a PF MTU behind its pool (config or discovery)", () => {
    const raw = platform({
      nodes: [
        node("node-1", {
          physicalFunctions: [
            { pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A", mtu: 9000 },
            { pciAddress: "0000:02:00.1", numVfs: 8, pool: "sriov_net_A" },
          ],
        }),
      ],
      networks: [{ name: "net-a", pool: "sriov_net_A", mtu: 9000 }],
    });
    assert.strictEqual(plan(raw).feasible, true);
    const discovered = new Map([
      [
        "node-1",
        {
          pfs: [
            { pciAddress: "0000:02:00.0", numaNode: 0, totalVfs: 64, mtu: 9000 },
            { pciAddress: "0000:02:00.1", numaNode: 0, totalVfs: 64, mtu: 1500 },
          ],
        },
      ],
    ]);
    const p = plan(raw, discovered);
    assert.strictEqual(p.feasible, false);
    assert.deepStrictEqual(
      p.errors.map((e) => [e.kind, e.path.join("."), e.problem]),
      [
        [
          "consistency",
          "networks.0.mtu",
          'MTU 9000 exceeds the MTU 1500 of PF node-1/0000:02:00.1, the smallest behind pool "sriov_net_A"',
        ],
      ],
    );
  });

  it("refuses more VFs than the PF supports, and PFs discovery did not find; overcommit does not help", () => {
    const raw = platform({
      nodes: [
        node("node-1", {
          physicalFunctions: [
            { pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A" },
            { name: "ens9f0", numVfs: 4, pool: "sriov_net_A" },
          ],
        }),
      ],
    });
    const p = plan(raw, new Map([["node-1", { pfs: [{ pciAddress: "0000:02:00.0", numaNode: 0, totalVfs: 4 }] }]]));
    assert.deepStrictEqual(
      p.errors.map((e) => [e.path.join("."), e.problem, e.fix]),
      [
        [
          "nodes.0.physicalFunctions.0.numVfs",
          "8 VFs requested on node-1/0000:02:00.0 but the PF supports 4 (sriov_totalvfs)",
          "lower numVfs to at most 4",
        ],
        [
          "nodes.0.physicalFunctions.1",
          'physical function "ens9f0" was not found on node node-1 (discovery lists 0000:02:00.0)',
          "fix the name or pciAddress, or remove the PF",
        ],
      ],
    );
    assert.throws(
      () => assertFeasible(p, true),
      (e: unknown) =>
        e instanceof ConfigError && /nodes\[0\]\.physicalFunctions\[0\]\.numVfs: 8 VFs requested/.test(e.message),
    );
  });

  it("accepts PFs within discovered totalVfs, found by name or address", () => {
    const raw = platform({
      nodes: [
        node("node-1", {
          physicalFunctions: [
            { pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A" },
            { name: "ens9f0", numVfs: 4, pool: "sriov_net_A" },
          ],
        }),
      ],
    });
    const p = plan(
      raw,
      new Map([
        [
          "node-1",
          {
            pfs: [
              { pciAddress: "0000:02:00.0", numaNode: 0, totalVfs: 8 },
              { name: "ens9f0", pciAddress: "0000:81:00.0", numaNode: 1, totalVfs: 64 },
            ],
          },
        ],
      ]),
    );
    assert.deepStrictEqual(p.errors, []);
  });

  it("warns when NUMA-passthrough VMs use a pool spanning NUMA nodes", () => {
    const nodes = [
      node("node-1", {
        physicalFunctions: [
          { pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A", numaNode: 0 },
          { pciAddress: "0000:81:00.0", numVfs: 8, pool: "sriov_net_A", numaNode: 1 },
        ],
      }),
    ];
    const numaVm = vm("pbx", ["net-a"], { tuning: { numaPassthrough: true } });
    const p = plan(platform({ nodes, vms: [vm("plain", ["net-a"]), numaVm] }));
    assert.strictEqual(p.warnings.length, 1);
    assert.match(
      p.warnings[0],
      /^kubevirt-sriov:platform\.vms\[1\]\.tuning\.numaPassthrough: VM default\/pbx maps guest NUMA nodes to the host, but pool "sriov_net_A" has VFs on NUMA nodes 0 and 1 of node-1/,
    );
    // Same node, one NUMA node per pool: no warning.
    const local = [
      node("node-1", {
        physicalFunctions: [
          { pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A", numaNode: 0 },
          { pciAddress: "0000:02:00.1", numVfs: 8, pool: "sriov_net_A", numaNode: 0 },
        ],
      }),
    ];
    assert.deepStrictEqual(plan(platform({ nodes: local, vms: [numaVm] })).warnings, []);
  });

  it("takes NUMA nodes from discovery when the config has none", () => {
    const nodes = [
      node("node-1", {
        physicalFunctions: [
          { pciAddress: "0000:02:00.0", numVfs: 8, pool: "sriov_net_A" },
          { pciAddress: "0000:81:00.0", numVfs: 8, pool: "sriov_net_A" },
        ],
      }),
    ];
    const raw = platform({ nodes, vms: [vm("pbx", ["net-a"], { tuning: { numaPassthrough: true } })] });
    assert.deepStrictEqual(plan(raw).warnings, []);
    const d = new Map([
      [
        "node-1",
        {
          pfs: [
            { pciAddress: "0000:02:00.0", numaNode: 0, totalVfs: 64 },
            { pciAddress: "0000:81:00.0", numaNode: 1, totalVfs: 64 },
          ],
        },
      ],
    ]);
    assert.strictEqual(plan(raw, d).warnings.length, 1);
  });

  it("reports the effective ExternalNetResourceInjection state", () => {
    const state = (kubevirt: object) => plan(platform({ kubevirt })).kubevirt.externalNetResourceInjection;
    assert.strictEqual(state({ version: "v1.9.0" }), "disabled");
    assert.strictEqual(state({ version: "v1.10.2" }), "disabled");
    assert.strictEqual(state({ version: "v1.8.4" }), "off-by-default");
    assert.strictEqual(
      state({ version: "v1.8.4", disabledFeatureGates: ["ExternalNetResourceInjection"] }),
      "disabled",
    );
    assert.strictEqual(state({ version: "v1.9.0", networkResourcesInjector: true }), "injector");
  });
});
