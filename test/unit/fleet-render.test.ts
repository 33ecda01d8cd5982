// What a fleet written with profiles and NIC selectors renders: the device plugin's files for a
// uniform and a mixed fleet, the plan per profile, the report.
import { strict as assert } from "assert";
import type { PlatformModel } from "../../config/model";
import { parsePlatform } from "../../config/validate";
import { planPlatform } from "../../plan";
import { renderReport, SECTIONS } from "../../report";
import { devicePluginNodes, renderDevicePluginConfigMap, ResolvedPf } from "../../render/devicePlugin";
import { loadStackConfig, readStack } from "../harness/stacks";

type Cfg = Record<string, any>;

/** Two hardware generations: r740 (an E810 found by selector, both first ports) and r650 (named PFs). */
function twoProfiles(r740Nodes: number, r650Nodes: number): Cfg {
  return {
    profiles: {
      r740: {
        capacity: { dedicatedCpus: 32, hugepages1Gi: 32 },
        physicalFunctions: [
          {
            selector: { vendor: "8086", device: "159b", port: 0, count: 2 },
            numVfs: 8,
            ranges: [
              { vfs: "0-5", pool: "media" },
              { vfs: "6-7", pool: "signalling" },
            ],
          },
          {
            selector: { vendor: "8086", device: "159b", port: 1, count: 2 },
            numVfs: 4,
            driver: "netdevice",
            pool: "pods",
          },
        ],
      },
      r650: {
        capacity: { dedicatedCpus: 16, hugepages1Gi: 16 },
        physicalFunctions: [
          {
            name: "ens3f0",
            numVfs: 16,
            ranges: [
              { vfs: "0-11", pool: "media" },
              { vfs: "12-15", pool: "signalling" },
            ],
          },
        ],
      },
    },
    nodes: [
      ...(r740Nodes > 0
        ? [{ profile: "r740", each: `1-${r740Nodes}`, name: "r740-{i:3}", ssh: { host: "10.1.0.{i}" } }]
        : []),
      ...(r650Nodes > 0
        ? [{ profile: "r650", each: `1-${r650Nodes}`, name: "r650-{i:3}", ssh: { host: "10.2.0.{i}" } }]
        : []),
    ],
    pools: [{ name: "media" }, { name: "signalling" }, { name: "pods", prefix: "example.com" }],
    networks: [{ name: "media", namespace: "voip", pool: "media", vlan: 100 }],
    vms: [
      {
        name: "pbx",
        namespace: "voip",
        role: "pbx",
        cpus: 4,
        memory: "4Gi",
        interfaces: [{ network: "media", address: "192.168.100.10/24" }],
      },
      {
        name: "load",
        namespace: "voip",
        role: "loadgen",
        interfaces: [{ network: "media", address: "192.168.100.20/24" }],
        loadgen: { target: "pbx" },
      },
    ],
  };
}

/**
 * What node preparation reports per node: each E810's two first ports (names per slot, addresses
 * per node if asked).
 */
function resolutions(
  m: PlatformModel,
  address: (node: number, nic: number, port: number) => string,
  names = true,
): Map<string, ResolvedPf[]> {
  return new Map(
    m.nodes.map((n, ni) => [
      n.config.name,
      n.source.profile !== "r740"
        ? []
        : [0, 1].flatMap((port) =>
            [0, 1].map((nic) => ({
              entry: `profiles.r740.physicalFunctions[${port}]`,
              pciAddress: address(ni, nic, port),
              name: names ? `ens${nic + 1}f${port}` : null,
            })),
          ),
    ]),
  );
}

const sameEverywhere = (_n: number, nic: number, port: number) => `0000:${nic === 0 ? "3b" : "5e"}:00.${port}`;

describe("device plugin config of a fleet with profiles and NIC selectors", () => {
  it("a uniform fleet: one config.json, the PFs the selectors matched by name, whatever their addresses on each node", () => {
    const m = parsePlatform(twoProfiles(3, 0));
    // Each node's NICs sit on other buses; their names are the same.
    const cm = renderDevicePluginConfigMap(
      m,
      resolutions(m, (n, nic, port) => `0000:${(0x3b + 0x20 * nic + n).toString(16)}:00.${port}`),
    );
    assert.equal(cm.mode, "uniform");
    assert.deepEqual(Object.keys(cm.data), ["config.json"]);
    assert.deepEqual(cm.nodes, ["r740-001", "r740-002", "r740-003"]);
    assert.deepEqual(JSON.parse(cm.data["config.json"]).resourceList, [
      {
        resourceName: "media",
        resourcePrefix: "intel.com",
        deviceType: "netDevice",
        selectors: [{ drivers: ["vfio-pci"], pfNames: ["ens1f0#0-5", "ens2f0#0-5"] }],
      },
      {
        resourceName: "signalling",
        resourcePrefix: "intel.com",
        deviceType: "netDevice",
        selectors: [{ drivers: ["vfio-pci"], pfNames: ["ens1f0#6-7", "ens2f0#6-7"] }],
      },
      {
        resourceName: "pods",
        resourcePrefix: "example.com",
        deviceType: "netDevice",
        selectors: [{ pfNames: ["ens1f1#0-3", "ens2f1#0-3"] }],
      },
    ]);
    assert.equal(cm.configFile, "/etc/pcidp/config.json");
  });

  it("a matched PF without a network interface is written by PCI address", () => {
    const m = parsePlatform(twoProfiles(1, 0));
    const cm = renderDevicePluginConfigMap(m, resolutions(m, sameEverywhere, false));
    const media = JSON.parse(cm.data["config.json"]).resourceList[0];
    assert.deepEqual(media.selectors, [
      { drivers: ["vfio-pci"], rootDevices: ["0000:3b:00.0#0-5", "0000:5e:00.0#0-5"] },
    ]);
  });

  it("a mixed fleet (two profiles): one file per node, each listing its own PFs", () => {
    const m = parsePlatform(twoProfiles(2, 2));
    const cm = renderDevicePluginConfigMap(m, resolutions(m, sameEverywhere));
    assert.equal(cm.mode, "per-node");
    assert.deepEqual(Object.keys(cm.data).sort(), ["r650-001.json", "r650-002.json", "r740-001.json", "r740-002.json"]);
    assert.equal(cm.data["r740-001.json"], cm.data["r740-002.json"], "nodes of one profile render the same file");
    assert.deepEqual(
      JSON.parse(cm.data["r650-001.json"]).resourceList.map((r: any) => [r.resourceName, r.selectors[0].pfNames]),
      [
        ["media", ["ens3f0#0-11"]],
        ["signalling", ["ens3f0#12-15"]],
      ],
    );
    assert.equal(cm.configFile, "/etc/pcidp/$(NODE_NAME).json");
    assert.deepEqual(cm.nodes.sort(), devicePluginNodes(m).sort(), "the plugin's nodes are known before the files");
  });

  it("a fleet of named PFs written with profiles renders what the per-node form renders", () => {
    const viaProfile = parsePlatform(twoProfiles(0, 3));
    const perNode = parsePlatform({
      ...twoProfiles(0, 0),
      profiles: undefined,
      nodes: viaProfile.nodes.map((n) => n.config),
    });
    assert.deepEqual(renderDevicePluginConfigMap(viaProfile), renderDevicePluginConfigMap(perNode));
    assert.equal(renderDevicePluginConfigMap(viaProfile).mode, "uniform");
  });

  it("refuses to render selector PFs before the nodes resolved them, and names the selector", () => {
    const m = parsePlatform(twoProfiles(1, 0));
    assert.throws(
      () => renderDevicePluginConfigMap(m),
      /some PFs are chosen by NIC selector: render the device-plugin config with what node preparation resolved on each node/,
    );
    assert.throws(
      () => renderDevicePluginConfigMap(m, new Map([["r740-001", undefined as unknown as ResolvedPf[]]])),
      /node r740-001: selector\(8086:159b, port 0, ×2\) at profiles\.r740\.physicalFunctions\[0\] is resolved on the node/,
    );
  });
});

describe("plan and report per profile", () => {
  it("sums supply and placed demand per profile; nodes without a profile are in no profile", () => {
    const cfg = twoProfiles(3, 2);
    cfg.nodes.push({
      name: "spare-1",
      ssh: { host: "10.9.0.1" },
      physicalFunctions: [{ name: "ens1f0", numVfs: 2, pool: "media" }],
    });
    const plan = planPlatform(parsePlatform(cfg));
    assert.deepEqual(
      plan.profiles.map((p) => [p.profile, p.nodes]),
      [
        ["r740", 3],
        ["r650", 2],
      ],
    );
    const r740 = plan.profiles[0];
    assert.deepEqual(
      r740.pools.find((p) => p.pool === "media"),
      { pool: "media", supply: 3 * 2 * 6, requested: 2, free: 3 * 2 * 6 - 2 },
      "6 VFs on each of the 2 E810 first ports of 3 nodes; both VMs land on r740-001",
    );
    assert.deepEqual(
      r740.pools.find((p) => p.pool === "pods"),
      { pool: "pods", supply: 3 * 2 * 4, requested: 0, free: 24 },
    );
    assert.deepEqual(r740.dedicatedCpus, { supply: 96, requested: 4 + 1 + 2 + 1, free: 96 - 8 });
    assert.deepEqual(
      plan.profiles[1].pools.map((p) => [p.pool, p.supply]),
      [
        ["media", 24],
        ["signalling", 8],
      ],
      "r650 gives pods nothing: left out",
    );
    assert.equal(plan.pools.find((p) => p.pool === "media")?.supply, 36 + 24 + 2);
    assert.equal(
      planPlatform(parsePlatform({ ...cfg, profiles: undefined, nodes: [cfg.nodes[2]] })).profiles.length,
      0,
    );
  });

  it("the report sums each profile and says each node's profile", () => {
    const m = parsePlatform(twoProfiles(2, 1));
    const md = renderReport("fleet", m, planPlatform(m));
    assert.match(md, /- Nodes: 3 \(profiles: r740 × 2, r650 × 1\)/);
    assert.ok(md.includes(`### ${SECTIONS.profiles}`));
    assert.match(
      md,
      /\| r740 \| 2 \| media 24 \/ 2 \/ 22; signalling 8 \/ 0 \/ 8; pods 16 \/ 0 \/ 16 \| 64 \/ 8 \/ 56 \| 64 \/ 6 \/ 58 \| 0 \/ 0 \/ 0 \|/,
    );
    assert.match(md, /\| node \| profile \| dedicated CPUs \| 1Gi hugepages \| 2Mi hugepages \|/);
    assert.match(md, /\| r650-001 \| r650 \| 16 \/ 0 \/ 16 \|/);
    assert.match(md, /r740-001 \(profile r740\)/, "the topology names the profile");
    assert.match(md, /selector\(8086:159b, port 0, ×2\)/, "and the PF by its selector");
  });
});

describe("stacks/Pulumi.fleet-example.yaml", () => {
  it("describes 500 nodes of two hardware profiles in under 100 lines, and plans them per profile", () => {
    const lines = readStack("fleet-example").text.split("\n").length;
    assert.ok(lines < 100, `${lines} lines`);
    const m = parsePlatform(loadStackConfig("fleet-example"));
    assert.equal(m.nodes.length, 500);
    assert.equal(new Set(m.nodes.map((n) => n.config.name)).size, 500);
    const plan = planPlatform(m);
    assert.equal(plan.feasible, true, JSON.stringify(plan.errors));
    assert.deepEqual(
      plan.profiles.map((p) => [p.profile, p.nodes]),
      [
        ["gen1", 300],
        ["gen2", 200],
      ],
    );
    assert.ok(
      m.nodes.every((n) => n.pfs.length === 1),
      "every node has one PF entry",
    );
    assert.equal(
      m.nodes
        .filter((n) => n.pfs[0].config.selector === undefined)
        .map((n) => n.config.name)
        .join(),
      "g2-200",
      "one node overrides its profile's PFs",
    );
    assert.match(
      renderReport("fleet-example", m, plan),
      /\| gen2 \| 200 \| media 11172 \/ 1 \/ 11171; signalling 1596 \/ 1 \/ 1595 \|/,
    );
  });
});
