// The real program (index.ts) under Pulumi mocks, for fleets written with profiles: the same
// resources as the fleet written node by node, and NIC selectors resolved by the (mocked) nodes
// flowing into the device plugin's config and the typed outputs.
import { strict as assert } from "assert";
import { desiredStateOf } from "../harness/nodeReports";
import { k8s, labManifestPin, runProgram, SSH_KEY_CONFIG as secretKey } from "../harness/program";
import type { ProgramResult } from "../harness/runProgram";

function stack(nodes: unknown[], profiles?: Record<string, unknown>): Record<string, unknown> {
  return {
    environment: "staging",
    kubevirt: { operatorManifest: labManifestPin() },
    ...(profiles ? { profiles } : {}),
    nodes,
    pools: [{ name: "media" }, { name: "signalling" }],
    networks: [{ name: "media", namespace: "voip", pool: "media", vlan: 100, subnet: "192.168.100.0/24" }],
    vms: [
      { name: "pbx", namespace: "voip", role: "pbx", interfaces: [{ network: "media", address: "192.168.100.10/24" }] },
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

const named = {
  ssh: { user: "ops" },
  capacity: { dedicatedCpus: 16, hugepages1Gi: 16 },
  labels: { "example.com/hw": "r740" },
  physicalFunctions: [
    {
      name: "ens1f0",
      numVfs: 8,
      mtu: 9000,
      ranges: [
        { vfs: "0-5", pool: "media" },
        { vfs: "6-7", pool: "signalling" },
      ],
    },
  ],
};

describe("program under mocks: a fleet written with profiles", function () {
  this.timeout(180_000);

  it("registers the same resources, with the same inputs, as the same fleet written node by node", () => {
    const viaProfile = runProgram({
      stack: "fleet",
      platform: stack([{ profile: "r740", each: "1-3", name: "r740-{i}", ssh: { host: "10.1.0.{i}" } }], {
        r740: named,
      }),
      config: secretKey,
    });
    assert.equal(viaProfile.error, undefined, viaProfile.error?.message);
    const byNode = runProgram({
      stack: "fleet",
      platform: stack(
        [1, 2, 3].map((i) => ({
          name: `r740-${i}`,
          ssh: { host: `10.1.0.${i}`, user: "ops" },
          capacity: named.capacity,
          labels: named.labels,
          physicalFunctions: named.physicalFunctions,
        })),
      ),
      config: secretKey,
    });
    assert.equal(byNode.error, undefined, byNode.error?.message);
    assert.deepEqual(
      viaProfile.resources.map((x) => `${x.type}::${x.name}`),
      byNode.resources.map((x) => `${x.type}::${x.name}`),
      "same resources, same names: same URNs",
    );
    const urns = (r: ProgramResult) => r.registrations.map((g) => g.urn).sort();
    assert.deepEqual(urns(viaProfile), urns(byNode), "the same URNs, parents included");
    // The same inputs, node commands included; only where a host key record says to pin the key differs.
    const pins = (r: ProgramResult) =>
      r.resources.filter((x) => x.inputs.environment?.KVS_SSH_PIN).map((x) => x.inputs.environment.KVS_SSH_PIN);
    assert.deepEqual(
      pins(viaProfile),
      [1, 2, 3].map((i) => `pulumi config set --path 'platform.nodes[0].hostKeys["r740-${i}"]' <KEY>`),
    );
    assert.deepEqual(
      pins(byNode),
      [0, 1, 2].map((i) => `pulumi config set --path 'platform.nodes[${i}].ssh.hostKey' <KEY>`),
    );
    const withoutPins = (r: ProgramResult) =>
      r.resources.map((x) =>
        x.inputs.environment?.KVS_SSH_PIN
          ? { ...x, inputs: { ...x.inputs, environment: { ...x.inputs.environment, KVS_SSH_PIN: "-" } } }
          : x,
      );
    assert.deepEqual(withoutPins(viaProfile), withoutPins(byNode));
    // The outputs say the profile, and nothing else changes.
    assert.deepEqual(
      viaProfile.outputs!.nodes.map((n: any) => n.profile),
      ["r740", "r740", "r740"],
    );
    assert.deepEqual(
      byNode.outputs!.nodes.map((n: any) => "profile" in n),
      [false, false, false],
    );
    const { profile: _p, ...rest } = viaProfile.outputs!.nodes[0];
    assert.deepEqual(rest, byNode.outputs!.nodes[0]);
    assert.deepEqual(
      viaProfile.outputs!.plan.profiles.map((p: any) => [p.profile, p.nodes, p.pools[0].supply]),
      [["r740", 3, 18]],
    );
  });

  it("NIC selectors: each node's command carries the selector; the device plugin's config comes from what the nodes matched; outputs name profile and PFs", () => {
    const bySelector = {
      ...named,
      physicalFunctions: [
        {
          selector: { vendor: "8086", device: "159b", port: 0, count: 2 },
          numVfs: 8,
          ranges: [
            { vfs: "0-5", pool: "media" },
            { vfs: "6-7", pool: "signalling" },
          ],
        },
      ],
    };
    const r = runProgram({
      stack: "fleet",
      platform: stack(
        [
          { profile: "e810", hosts: { "e810-a": "10.2.0.1", "e810-b": "10.2.0.2" } },
          {
            name: "old-1",
            ssh: { host: "10.3.0.1" },
            physicalFunctions: [{ name: "ens1f0", numVfs: 2, pool: "media" }],
          },
        ],
        { e810: bySelector },
      ),
      config: secretKey,
    });
    assert.equal(r.error, undefined, r.error?.message);
    const cmds = r.resources.filter((x) => x.type === "command:remote:Command");
    assert.equal(cmds.length, 3, "one command per node");
    const a = desiredStateOf(cmds.find((c) => c.name.endsWith("e810-a-sriov"))!.inputs.create);
    assert.match(a, /^profile e810$/m);
    assert.match(a, /^select 8086 159b - 0 2 8 - profiles\.e810\.physicalFunctions\[0\]$/m);

    // e810-a and e810-b matched the same PFs (the mocks answer alike): their files are the same, old-1's differs.
    const cm = k8s(r, "ConfigMap", "sriovdp-config");
    assert.deepEqual(Object.keys(cm.inputs.data).sort(), ["e810-a.json", "e810-b.json", "old-1.json"]);
    assert.equal(cm.inputs.data["e810-a.json"], cm.inputs.data["e810-b.json"]);
    assert.deepEqual(JSON.parse(cm.inputs.data["e810-a.json"]).resourceList[0].selectors, [
      { drivers: ["vfio-pci"], pfNames: ["enp96s0f0#0-5", "enp96s0f1#0-5"] },
    ]);
    assert.equal(cm.inputs.metadata.annotations["kubevirt-sriov/nodes"], "3");
    const ds = k8s(r, "DaemonSet", "kube-sriov-device-plugin");
    assert.ok(ds.inputs.spec.template.spec.containers[0].args.includes("--config-file=/etc/pcidp/$(NODE_NAME).json"));
    assert.match(ds.inputs.spec.template.metadata.annotations["kubevirt-sriov/config-hash"], /^[0-9a-f]{16}$/);

    const nodes = r.outputs!.nodes;
    assert.deepEqual(
      nodes.map((n: any) => [n.node, n.profile ?? null]),
      [
        ["e810-a", "e810"],
        ["e810-b", "e810"],
        ["old-1", null],
      ],
    );
    assert.deepEqual(nodes[0].resolvedPfs, [
      { entry: "profiles.e810.physicalFunctions[0]", pciAddress: "0000:60:00.0", name: "enp96s0f0" },
      { entry: "profiles.e810.physicalFunctions[0]", pciAddress: "0000:60:00.1", name: "enp96s0f1" },
    ]);
    assert.equal("resolvedPfs" in nodes[2], false, "a node without selectors carries no resolvedPfs");
    assert.deepEqual(
      nodes[0].physicalFunctions.map((p: any) => [p.name, p.numVfs]),
      [
        ["enp96s0f0", 8],
        ["enp96s0f1", 8],
      ],
    );
    assert.equal(r.outputs!.discoveredPlan.feasible, true, JSON.stringify(r.outputs!.discoveredPlan.errors));
    assert.deepEqual(
      r.outputs!.plan.profiles.map((p: any) => [p.profile, p.nodes, p.pools.map((x: any) => [x.pool, x.supply])]),
      [
        [
          "e810",
          2,
          [
            ["media", 24],
            ["signalling", 8],
          ],
        ],
      ],
    );
  });
});
