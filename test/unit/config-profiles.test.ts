// Node profiles, node groups and NIC selectors in the stack config: how entries expand, what
// overrides what, and that every problem is reported where it was written, once.
import { strict as assert } from "assert";
import * as fc from "fast-check";
import { ConfigError } from "../../config/errors";
import { parsePlatform } from "../../config/validate";
import { multiNodeConfig } from "../fixtures/stacks";

type Cfg = Record<string, any>;

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsWJp1kW2m9yU3s0e3Jq3b8B0tqvV1Zb1k5mQ0nXyZ1";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnX4Jm0eS2b9K3pQ8rT1vW6yZ0aB2cD4eF6gH8iJ0kL";

/**
 * The multi-node fixture plus a profile `r740` and its nodes: one by name, a group by pattern, a
 * group by hosts map.
 */
function fleetConfig(): Cfg {
  const c: Cfg = multiNodeConfig();
  c.profiles = {
    r740: {
      ssh: { user: "ops", port: 2222 },
      iommu: "intel",
      bootHugepages: { "1Gi": 8 },
      capacity: { dedicatedCpus: 16, hugepages1Gi: 8 },
      labels: { "example.com/hw": "r740", rack: "unknown" },
      physicalFunctions: [
        { selector: { vendor: "8086", device: "1593", port: 0 }, numVfs: 8, pool: "media_a", mtu: 9000 },
        { name: "ens2f0", numVfs: 4, driver: "netdevice", pool: "pods_net" },
      ],
    },
  };
  c.nodes.push(
    { profile: "r740", name: "r740-001", ssh: { host: "10.1.0.1", hostKey: KEY_A }, labels: { rack: "r1" } },
    {
      profile: "r740",
      each: "2-4",
      name: "r740-{i:3}",
      ssh: { host: "10.1.0.{i+10}" },
      capacity: { dedicatedCpus: 12 },
      hostKeys: { "r740-003": KEY_B },
    },
    { profile: "r740", hosts: { "r740-100": "10.1.1.1", "r740-101": "r740-101.dc1.example.com" } },
  );
  return c;
}

function problemsOf(cfg: unknown): string[] {
  try {
    parsePlatform(cfg);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message
      .split("\n")
      .slice(1)
      .map((l) => l.replace(/^ {2}- kubevirt-sriov:platform\.?/, ""));
  }
  return assert.fail("the config was accepted");
}

function onlyProblem(cfg: unknown, path: string, pattern: RegExp): string {
  const all = problemsOf(cfg);
  const at = all.filter((l) => l.startsWith(`${path}: `));
  assert.equal(at.length, 1, `expected one problem at ${path}, got:\n${all.join("\n")}`);
  assert.match(at[0], pattern);
  assert.match(at[0], /: .+ — .+/, "says what is wrong and how to fix it");
  return at[0];
}

describe("config: node profiles and node groups", () => {
  it("expands a profile into nodes: its settings, the entry's name and host, and the entry's overrides", () => {
    const m = parsePlatform(fleetConfig());
    assert.deepEqual(
      m.nodes.map((n) => n.config.name),
      ["worker-a", "worker-b", "r740-001", "r740-002", "r740-003", "r740-004", "r740-100", "r740-101"],
    );
    const [one, two, three] = m.nodes.slice(2);
    assert.deepEqual(
      one.config.ssh,
      { host: "10.1.0.1", port: 2222, user: "ops", hostKey: KEY_A },
      "ssh merges key by key: the profile's user and port, the node's host and key",
    );
    assert.deepEqual(
      one.config.labels,
      { "example.com/hw": "r740", rack: "r1" },
      "labels merge, the node's value wins",
    );
    assert.deepEqual(
      one.config.capacity,
      { dedicatedCpus: 16, hugepages1Gi: 8, hugepages2Mi: 0 },
      "the profile's capacity, defaults for the rest",
    );
    assert.deepEqual(
      two.config.capacity,
      { dedicatedCpus: 12, hugepages1Gi: 8, hugepages2Mi: 0 },
      "capacity merges key by key",
    );
    assert.deepEqual(one.config.bootHugepages, { "1Gi": 8, "2Mi": 0 });
    assert.equal(one.config.allowDisruption, false, "a key neither gives takes the schema's default");
    assert.equal(one.pfs.length, 2);
    assert.equal(one.source.profile, "r740");
    assert.deepEqual(
      one.pfs[0].path,
      ["profiles", "r740", "physicalFunctions", 0],
      "a profile's PF is written in the profile",
    );
    assert.equal(three.config.ssh.hostKey, KEY_B, "hostKeys pins a group member's key");
    assert.equal(two.config.ssh.hostKey, undefined);
    assert.deepEqual(
      two.source.hostKey,
      ["nodes", 3, "hostKeys", "r740-002"],
      "a group member's key is pinned in its entry's hostKeys",
    );
    assert.deepEqual(one.source.hostKey, ["nodes", 2, "ssh", "hostKey"]);
    assert.deepEqual(
      m.nodes[0].source,
      { entry: 0, hostKey: ["nodes", 0, "ssh", "hostKey"], bastionHostKey: ["nodes", 0, "bastion", "hostKey"] },
      "a per-node entry is its own source",
    );
  });

  it("each: {i}, zero-padded {i:3} and shifted {i+10}/{i-240} in name and host; hosts: a map of name to host", () => {
    const m = parsePlatform(fleetConfig());
    assert.deepEqual(
      m.nodes.slice(3).map((n) => [n.config.name, n.config.ssh.host]),
      [
        ["r740-002", "10.1.0.12"],
        ["r740-003", "10.1.0.13"],
        ["r740-004", "10.1.0.14"],
        ["r740-100", "10.1.1.1"],
        ["r740-101", "r740-101.dc1.example.com"],
      ],
    );
    const c = fleetConfig();
    c.nodes.push({ profile: "r740", each: "241-243,250", name: "r740-{i}", ssh: { host: "10.1.1.{i-240}" } });
    assert.deepEqual(
      parsePlatform(c)
        .nodes.slice(8)
        .map((n) => [n.config.name, n.config.ssh.host]),
      [
        ["r740-241", "10.1.1.1"],
        ["r740-242", "10.1.1.2"],
        ["r740-243", "10.1.1.3"],
        ["r740-250", "10.1.1.10"],
      ],
    );
  });

  it("a node entry may override the profile's PFs as a whole, and those problems are the entry's", () => {
    const c = fleetConfig();
    c.nodes[2].physicalFunctions = [{ name: "ens9f0", numVfs: 2, pool: "media_a" }];
    const m = parsePlatform(c);
    assert.deepEqual(
      m.nodes[2].pfs.map((p) => [p.key, p.path]),
      [["ens9f0", ["nodes", 2, "physicalFunctions", 0]]],
    );
    assert.equal(m.nodes[3].pfs[0].config.selector?.vendor, "8086", "the other nodes keep the profile's");
    c.nodes[2].physicalFunctions[0].pool = "nope";
    onlyProblem(c, "nodes[2].physicalFunctions[0].pool", /unknown pool "nope"/);
  });

  it("the per-node form is unchanged: same model with and without an unused profile", () => {
    const plain = parsePlatform(multiNodeConfig());
    const c = multiNodeConfig() as Cfg;
    c.profiles = { spare: { iommu: "amd" } };
    const withProfile = parsePlatform(c);
    assert.deepEqual(
      withProfile.nodes.map((n) => n.config),
      plain.nodes.map((n) => n.config),
    );
    assert.deepEqual(
      withProfile.nodes.map((n) => n.source),
      plain.nodes.map((n) => n.source),
    );
  });

  it("a profile and its per-node expansion give the same nodes", () => {
    const c = fleetConfig();
    const m = parsePlatform(c);
    const perNode = multiNodeConfig() as Cfg;
    perNode.nodes.push(...m.nodes.slice(2).map((n) => n.config));
    const same = parsePlatform(perNode);
    assert.deepEqual(
      same.nodes.map((n) => n.config),
      m.nodes.map((n) => n.config),
    );
    assert.deepEqual(
      [...same.pools.values()].map((p) => p.supply),
      [...m.pools.values()].map((p) => p.supply),
    );
  });

  describe("problems name the profile or the node entry, once", () => {
    it("a profile's bad value: at profiles.<name>..., once for all its nodes", () => {
      const c = fleetConfig();
      c.profiles.r740.physicalFunctions[1].numVfs = 999;
      const all = problemsOf(c);
      assert.deepEqual(all, [
        "profiles.r740.physicalFunctions[1].numVfs: 999 is above the maximum 256 — use a value of at most 256",
      ]);
    });

    it("a profile's unknown pool: at the profile's PF, once", () => {
      const c = fleetConfig();
      c.profiles.r740.physicalFunctions[0].pool = "media_x";
      assert.deepEqual(problemsOf(c).filter((l) => l.includes("media_x")).length, 1);
      onlyProblem(c, "profiles.r740.physicalFunctions[0].pool", /unknown pool "media_x"/);
    });

    it("an unused profile is checked too", () => {
      const c = multiNodeConfig() as Cfg;
      c.profiles = { spare: { iommu: "arm" } };
      onlyProblem(c, "profiles.spare.iommu", /"arm" is not allowed — use one of: "intel", "amd"/);
    });

    it("an entry's bad override: at the entry", () => {
      const c = fleetConfig();
      c.nodes[3].capacity.dedicatedCpus = 100000;
      onlyProblem(c, "nodes[3].capacity.dedicatedCpus", /100000 is above 8192/);
    });

    it("a group member's bad name or host: at the entry's pattern or its hosts key", () => {
      const c = fleetConfig();
      c.nodes[3].name = "R740-{i}";
      delete c.nodes[3].hostKeys;
      assert.deepEqual(
        problemsOf(c).map((l) => /^nodes\[3\]\.name: "(R740-\d)" must be a lowercase RFC 1123 subdomain/.exec(l)?.[1]),
        ["R740-2", "R740-3", "R740-4"],
      );
      c.nodes[3].each = "1-480";
      const many = problemsOf(c).filter((l) => l.startsWith("nodes[3].name: "));
      assert.equal(many.length, 4, "a pattern wrong for 480 nodes: three of them, then a count");
      assert.match(
        many[3],
        /^nodes\[3\]\.name: and 477 more problems like those above, one for each node the entry stands for — /,
      );
      const d = fleetConfig();
      d.nodes[4].hosts["r740-101"] = "10.1.1.300";
      onlyProblem(d, 'nodes[4].hosts["r740-101"]', /"10\.1\.1\.300" is not a valid IPv4 address/);
    });

    it("unknown profile", () => {
      const c = fleetConfig();
      c.nodes[2].profile = "r750";
      onlyProblem(c, "nodes[2].profile", /unknown profile "r750" — use one of the profiles: r740/);
    });

    it("a profile holding per-host keys", () => {
      const c = fleetConfig();
      c.profiles.r740.ssh.host = "10.1.0.1";
      c.profiles.r740.name = "r740";
      onlyProblem(
        c,
        "profiles.r740.ssh.host",
        /a profile holds what its nodes share, and ssh\.host is per host — give it in each node entry/,
      );
      onlyProblem(c, "profiles.r740.name", /name is per node/);
    });

    it("a node without a host: at the entry, not at the profile whose ssh it takes", () => {
      const c = fleetConfig();
      delete c.nodes[2].ssh;
      onlyProblem(c, "nodes[2].ssh.host", /is required/);
    });

    it("each without {i} in the name or host, backwards, shifted below 0", () => {
      const c = fleetConfig();
      c.nodes[3].name = "r740";
      onlyProblem(
        c,
        "nodes[3].name",
        /"r740" has no \{i\}, so every node of the entry would get the same name — write the node name with the number in it, like r740-\{i:3\}/,
      );
      const d = fleetConfig();
      d.nodes[3].ssh.host = "10.1.0.1";
      onlyProblem(d, "nodes[3].ssh.host", /has no \{i\}, so every node of the entry would dial the same host/);
      const e = fleetConfig();
      e.nodes[3].each = "4-2";
      onlyProblem(e, "nodes[3].each", /range "4-2" runs backwards/);
      const f = fleetConfig();
      f.nodes[3].ssh.host = "10.1.0.{i-3}";
      onlyProblem(f, "nodes[3].ssh.host", /\{i-3\} is -1 for i=2 — keep every number it produces at 0 or more/);
      const g = fleetConfig();
      g.nodes[3].each = "1..4";
      onlyProblem(g, "nodes[3].each", /must be node numbers like "1-480"/);
    });

    it("each and hosts together, hostKeys for a node the entry does not list, identity in a group", () => {
      const c = fleetConfig();
      c.nodes[4].each = "1-2";
      onlyProblem(c, "nodes[4]", /uses both each and hosts/);
      const d = fleetConfig();
      d.nodes[3].hostKeys = { "r740-009": KEY_A };
      onlyProblem(d, 'nodes[3].hostKeys["r740-009"]', /"r740-009" is not a node of this entry/);
      const e = fleetConfig();
      e.nodes[4].identity = { hostname: "x" };
      onlyProblem(e, "nodes[4].identity", /identity names one host, and this entry stands for many nodes/);
    });

    it("the same node twice across entries", () => {
      const c = fleetConfig();
      c.nodes[4].hosts["r740-003"] = "10.1.1.3";
      onlyProblem(c, 'nodes[4].hosts["r740-003"]', /duplicate node "r740-003"/);
    });

    it("production: a group's unpinned nodes are named with the hostKeys path to pin them, the rest counted", () => {
      const c = fleetConfig();
      c.environment = "production";
      c.nodes[0].bastion = { host: "jump.example.internal", hostKey: KEY_A };
      c.nodes[1].bastion.hostKey = KEY_A;
      c.nodes[4].hostKeys = { "r740-100": KEY_A, "r740-101": KEY_B };
      c.nodes.push({ profile: "r740", each: "200-219", name: "r740-{i}", ssh: { host: "10.1.2.{i-200}" } });
      const all = problemsOf(c);
      onlyProblem(
        c,
        'nodes[3].hostKeys["r740-002"]',
        /node "r740-002" has no pinned SSH host key, .* pin it: pulumi config set --path 'platform\.nodes\[3\]\.hostKeys\["r740-002"\]' "\$\(ssh-keyscan -t ed25519 -p 2222 10\.1\.0\.12 /,
      );
      assert.equal(all.filter((l) => l.startsWith("nodes[5].hostKeys[")).length, 10, all.join("\n"));
      onlyProblem(
        c,
        "nodes[5].hostKeys",
        /10 more nodes have no pinned SSH host key .* — pin each in nodes\[5\]\.hostKeys the same way/,
      );
    });

    it("production: a profile's jump host without a pinned key is one problem, at the profile", () => {
      const c = fleetConfig();
      c.environment = "production";
      c.nodes[1].bastion.hostKey = KEY_A;
      c.nodes[3].hostKeys = { "r740-002": KEY_A, "r740-003": KEY_A, "r740-004": KEY_A };
      c.nodes[4].hostKeys = { "r740-100": KEY_A, "r740-101": KEY_B };
      c.profiles.r740.bastion = { host: "jump.example.internal", user: "jump" };
      assert.deepEqual(problemsOf(c), [
        `profiles.r740.bastion.hostKey: the jump host of profile "r740" has no pinned SSH host key, and a production stack does not trust keys on first use — pin it: pulumi config set --path 'platform.profiles.r740.bastion.hostKey' "$(ssh-keyscan -t ed25519 -p 22 jump.example.internal 2>/dev/null | grep -v '^#' | head -n 1 | cut -d' ' -f2-)"`,
      ]);
    });
  });
});

describe("config: NIC selectors", () => {
  const withSelector = (sel: unknown, extra: Cfg = {}): Cfg => {
    const c = multiNodeConfig() as Cfg;
    c.nodes[1].physicalFunctions[0] = {
      selector: sel,
      numVfs: 16,
      ranges: [
        { vfs: "0-7", pool: "media_a" },
        { vfs: "8-15", pool: "signalling" },
      ],
      ...extra,
    };
    return c;
  };

  it("a PF chosen by vendor, device and port; a selector matching two PFs supplies twice the VFs", () => {
    const m = parsePlatform(withSelector({ vendor: "8086", device: "1593", port: 1 }));
    const pf = m.nodes[1].pfs[0];
    assert.equal(pf.key, "selector(8086:1593, port 1)");
    assert.equal(pf.count, 1);
    assert.deepEqual(pf.config.selector, { vendor: "8086", device: "1593", port: 1, count: 1 });
    const two = parsePlatform(withSelector({ pfName: "ens*f0", count: 2 }));
    assert.equal(two.nodes[1].pfs[0].key, "selector(ens*f0, ×2)");
    assert.equal(two.pools.get("media_a")!.supplyByNode.get("worker-b"), 16, "8 VFs on each of the 2 PFs it matches");
    assert.equal(two.pools.get("media_a")!.supply, 8 + 16);
  });

  it("refuses a selector with nothing to match on, an unquoted ID, a bad pattern or port, and name with selector", () => {
    onlyProblem(
      withSelector({ port: 0 }),
      "nodes[1].physicalFunctions[0].selector",
      /needs at least one of vendor, device or pfName .* — add the PF's vendor and device IDs/,
    );
    onlyProblem(
      withSelector({ vendor: 8086 }),
      "nodes[1].physicalFunctions[0].selector.vendor",
      /must be a quoted vendor ID like "8086", got 8086 — quote it in YAML/,
    );
    onlyProblem(
      withSelector({ device: "0x1593" }),
      "nodes[1].physicalFunctions[0].selector.device",
      /4-digit lowercase hex device ID/,
    );
    onlyProblem(
      withSelector({ pfName: "ens 1" }),
      "nodes[1].physicalFunctions[0].selector.pfName",
      /must be an interface name pattern like ens\*f0/,
    );
    onlyProblem(
      withSelector({ vendor: "8086", port: 9 }),
      "nodes[1].physicalFunctions[0].selector.port",
      /is above 7: a NIC's ports are PCI functions 0–7/,
    );
    onlyProblem(
      withSelector({ vendor: "8086", count: 0 }),
      "nodes[1].physicalFunctions[0].selector.count",
      /below the minimum 1/,
    );
    onlyProblem(
      withSelector({ vendor: "8086" }, { name: "ens1f0" }),
      "nodes[1].physicalFunctions[0]",
      /exactly one of name, pciAddress or selector/,
    );
    onlyProblem(
      withSelector({ vendor: "8086", typo: 1 }),
      "nodes[1].physicalFunctions[0].selector",
      /unknown key "typo"/,
    );
  });

  it("the same selector twice on a node is a duplicate PF", () => {
    const c = withSelector({ vendor: "8086", device: "1593" });
    c.nodes[1].physicalFunctions.push({ selector: { device: "1593", vendor: "8086" }, numVfs: 2, pool: "media_a" });
    onlyProblem(c, "nodes[1].physicalFunctions[1].selector", /duplicate physical function "selector\(8086:1593\)"/);
  });
});

describe("config: profiles and groups (property)", () => {
  const leaf = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -5, max: 600 }),
    fc.string({ maxLength: 12 }),
    fc.constantFrom("r740", "r650", "1-3", "3-1", "x-{i}", "{i:3}", "10.0.0.{i-5}", "{j}", "ens*f0", "8086", "-"),
    fc.constant([]),
    fc.constant({}),
  );
  const spots: (string | number)[][] = [
    ["profiles"],
    ["profiles", "r740"],
    ["profiles", "r740", "ssh"],
    ["profiles", "r740", "physicalFunctions", 0, "selector"],
    ["profiles", "r740", "physicalFunctions", 0, "selector", "count"],
    ["profiles", "r740", "labels"],
    ["profiles", "r740", "name"],
    ["nodes", 2],
    ["nodes", 2, "profile"],
    ["nodes", 3, "each"],
    ["nodes", 3, "name"],
    ["nodes", 3, "ssh"],
    ["nodes", 3, "ssh", "host"],
    ["nodes", 3, "hostKeys"],
    ["nodes", 3, "hosts"],
    ["nodes", 4, "hosts"],
    ["nodes", 4, "hosts", "r740-100"],
    ["nodes", 4, "profile"],
  ];

  it("any mutation of a fleet with profiles parses or raises a ConfigError whose every line names a path, a problem and a fix", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(spots.length - 1), leaf), { minLength: 1, maxLength: 3 }), (mutations) => {
        const cfg: any = fleetConfig();
        for (const [i, v] of mutations) {
          const at = spots[i];
          let cur = cfg;
          for (const seg of at.slice(0, -1)) cur = cur !== null && typeof cur === "object" ? cur[seg] : undefined;
          if (cur === null || typeof cur !== "object") continue;
          if (v === undefined) delete cur[at[at.length - 1]];
          else cur[at[at.length - 1]] = v;
        }
        try {
          parsePlatform(cfg);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          for (const line of e.message.split("\n").slice(1))
            assert.match(line, /^ {2}- kubevirt-sriov:platform\S*: .+ — .+$/);
        }
      }),
      { numRuns: 800, seed: 20261201 },
    );
  });
});
