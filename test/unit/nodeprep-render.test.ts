// Pure parts of node preparation: the state lines, the remote command, the report parser.
import * as assert from "assert";
import { gunzipSync } from "zlib";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import fc from "fast-check";
import { NodeState, nodeScript, renderRemoteCommand, renderStateLines } from "../../render/nodeState";
import { parseDiscovery, parseNodeReport } from "../../render/nodeReport";
import { allOn, nodeState } from "../sim/states";
import { parsePlatform } from "../../config/validate";
import { renderNodeState } from "../../render/nodePlan";
import { multiNodeConfig } from "../fixtures/stacks";

const mixed: NodeState = nodeState(
  [
    {
      name: "ens1f0",
      numVfs: 8,
      mtu: 9000,
      vfGroups: [
        { first: 0, last: 5, driver: "vfio-pci", pool: "voice", trust: true, spoofchk: false, vlan: 100, qos: 5 },
        { first: 6, last: 7, driver: "netdevice", pool: "sig", minTxRate: 10, maxTxRate: 1000, linkState: "enable" },
      ],
    },
    { pciAddress: "0000:3b:00.1", numVfs: 0, vfGroups: [] },
  ],
  { kernel: { iommu: "amd", hugepages1G: 8, hugepages2M: 512, writeBootloader: true }, allowDisruption: true },
);

describe("nodeprep: renderStateLines", () => {
  it("renders the line format the script reads", () => {
    assert.strictEqual(
      renderStateLines(mixed),
      [
        "schema 1",
        "node k8s-node1",
        "owner kubevirt-sriov/test/k8s-node1",
        "identity - -",
        "allow_disruption 1",
        "kernel amd 8 512 1",
        "pf ens1f0 - 8 9000",
        "pf - 0000:3b:00.1 0 -",
        "group 0 0 5 vfio-pci voice 1 0 100 5 - - -",
        "group 0 6 7 netdevice sig - - - - 10 1000 enable",
        "end",
        "",
      ].join("\n"),
    );
  });

  it("renders the owner and the identity; a state without owner belongs to kubevirt-sriov/manual/<node>", () => {
    const lines = (s: NodeState) => renderStateLines(s).split("\n").slice(2, 4);
    assert.deepStrictEqual(
      lines({ ...mixed, owner: "proj_1/prod.eu-1/k8s-node1", identity: { hostname: "db-7.example.com" } }),
      ["owner proj_1/prod.eu-1/k8s-node1", "identity db-7.example.com -"],
    );
    assert.deepStrictEqual(lines({ ...mixed, identity: { machineId: "0123456789abcdef0123456789abcdef" } }), [
      "owner kubevirt-sriov/test/k8s-node1",
      "identity - 0123456789abcdef0123456789abcdef",
    ]);
    const { owner: _owner, ...ownerless } = mixed;
    assert.deepStrictEqual(lines(ownerless), ["owner kubevirt-sriov/manual/k8s-node1", "identity - -"]);
  });

  it("is deterministic", () => {
    assert.strictEqual(renderStateLines(mixed), renderStateLines(JSON.parse(JSON.stringify(mixed))));
  });

  const bad: [string, (s: NodeState) => void, RegExp][] = [
    [
      "shell in a PF name",
      (s) => (s.pfs[0].name = "ens1f0;reboot"),
      /pfs\[0\]\.name: "ens1f0;reboot" is not a valid interface name/,
    ],
    ["command substitution in a PF name", (s) => (s.pfs[0].name = "$(reboot)"), /pfs\[0\]\.name/],
    [
      "a newline in a PF name (would start a new state line)",
      (s) => (s.pfs[0].name = "ens1\npf x - 1 -"),
      /pfs\[0\]\.name/,
    ],
    [
      "a space in a pool (would shift the fields)",
      (s) => (s.pfs[0].vfGroups[0].pool = "voice 1"),
      /vfGroups\[0\]\.pool/,
    ],
    ["an uppercase PCI address", (s) => (s.pfs[1].pciAddress = "0000:3B:00.1"), /pfs\[1\]\.pciAddress/],
    ["a PCI address with a path", (s) => (s.pfs[1].pciAddress = "../../0000:3b:00.1"), /pfs\[1\]\.pciAddress/],
    ["a node name with a quote", (s) => (s.node = "k8s'node"), /node: "k8s'node" is not a valid Kubernetes node name/],
    [
      "an owner with a space (would shift the fields)",
      (s) => (s.owner = "kubevirt-sriov/test/k8s node1"),
      /owner: .* is not a valid owner/,
    ],
    [
      "an owner that climbs out of the state directory",
      (s) => (s.owner = "../../k8s-node1"),
      /owner: "\.\.\/\.\.\/k8s-node1" is not a valid owner/,
    ],
    ["an owner without a stack", (s) => (s.owner = "kubevirt-sriov/k8s-node1"), /owner/],
    [
      "an identity hostname with a shell word",
      (s) => (s.identity = { hostname: "node1;reboot" }),
      /identity\.hostname/,
    ],
    [
      "an uppercase identity hostname (the script compares lowercase)",
      (s) => (s.identity = { hostname: "Node1" }),
      /identity\.hostname/,
    ],
    ["a machine-id that is not 32 hex digits", (s) => (s.identity = { machineId: "1234" }), /identity\.machineId/],
    ["an interface name over 15 characters", (s) => (s.pfs[0].name = "a234567890123456"), /pfs\[0\]\.name/],
    ["a fractional VF count", (s) => (s.pfs[0].numVfs = 2.5), /pfs\[0\]\.numVfs: expected an integer/],
    [
      "a VF count given as a string",
      (s) => ((s.pfs[0] as unknown as Record<string, unknown>).numVfs = "8; reboot"),
      /pfs\[0\]\.numVfs/,
    ],
    ["a VLAN over 4094", (s) => (s.pfs[0].vfGroups[0].vlan = 4095), /vfGroups\[0\]\.vlan/],
    ["qos without a vlan", (s) => delete s.pfs[0].vfGroups[0].vlan, /qos needs a vlan/],
    ["a range past numVfs", (s) => (s.pfs[0].vfGroups[1].last = 8), /VF range 6-8 must lie within 0-7/],
    ["overlapping ranges", (s) => (s.pfs[0].vfGroups[1].first = 5), /VF range 5-7 overlaps 0-5/],
    [
      "an unknown driver",
      (s) => ((s.pfs[0].vfGroups[0] as unknown as Record<string, unknown>).driver = "uio"),
      /driver/,
    ],
    [
      "a link state with a shell word",
      (s) => ((s.pfs[0].vfGroups[1] as unknown as Record<string, unknown>).linkState = "auto;id"),
      /linkState/,
    ],
    [
      "trust as a string",
      (s) => ((s.pfs[0].vfGroups[0] as unknown as Record<string, unknown>).trust = "1"),
      /trust: expected true or false/,
    ],
    ["a PF listed twice", (s) => (s.pfs[1].name = "ens1f0"), /ens1f0 is listed twice/],
    [
      "a PF with neither name nor address",
      (s) => delete s.pfs[1].pciAddress,
      /needs a name, a pciAddress or a selector/,
    ],
    [
      "an unknown iommu vendor",
      (s) => ((s.kernel as unknown as Record<string, unknown>).iommu = "arm"),
      /kernel\.iommu/,
    ],
  ];
  for (const [what, mutate, message] of bad) {
    it(`rejects ${what}`, () => {
      const s: NodeState = JSON.parse(JSON.stringify(mixed));
      mutate(s);
      assert.throws(() => renderStateLines(s), message);
    });
  }

  it("property: any accepted interface name renders as one plain word; anything else is rejected", () => {
    const safeWord = /^[A-Za-z0-9_.:/-]+$/; // '/' only in the owner (<project>/<stack>/<node>)
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (name) => {
        const s = nodeState([allOn(name, 2)]);
        let lines: string;
        try {
          lines = renderStateLines(s);
        } catch (e) {
          assert.ok(e instanceof Error && /pfs\[0\]\.name/.test(e.message), String(e));
          return;
        }
        assert.strictEqual(
          lines.split("\n").length,
          10,
          "schema, node, owner, identity, allow, kernel, pf, group, end and the final newline",
        );
        for (const word of lines.trim().split(/\s+/)) assert.match(word, safeWord);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: every rendered state has only safe words, whatever the pools and numbers", () => {
    const pool = fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), pool, fc.integer({ min: 0, max: 4094 }), (n, p, vlan) => {
        const lines = renderStateLines(nodeState([allOn("ens1f0", n, "vfio-pci", { pool: p, vlan })]));
        for (const word of lines.trim().split(/\s+/)) assert.match(word, /^[A-Za-z0-9_.:/-]+$/);
      }),
    );
  });
});

describe("nodeprep: nodes[].identity and nodes[].decommissioned in the stack config", () => {
  const withNode0 = (extra: Record<string, unknown>) => {
    const cfg = multiNodeConfig() as { nodes: Record<string, unknown>[] };
    Object.assign(cfg.nodes[0], extra);
    return cfg;
  };

  it("renders identity into the node's state; the default checks the hostname against the node name", () => {
    assert.strictEqual(renderNodeState(parsePlatform(multiNodeConfig()).nodes[0]).identity, undefined);
    const m = parsePlatform(
      withNode0({
        identity: { hostname: "srv-0042.example.com", machineId: "0123456789abcdef0123456789abcdef" },
        decommissioned: true,
      }),
    );
    const s = renderNodeState(m.nodes[0]);
    assert.deepStrictEqual(s.identity, {
      hostname: "srv-0042.example.com",
      machineId: "0123456789abcdef0123456789abcdef",
    });
    assert.match(renderStateLines(s), /^identity srv-0042\.example\.com 0123456789abcdef0123456789abcdef$/m);
    assert.strictEqual(m.nodes[0].config.decommissioned, true);
    assert.strictEqual(s.owner, undefined, "the owner is the component's (project/stack)");
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    [
      "an identity with neither key",
      { identity: {} },
      /nodes\[0\]\.identity: node "worker-a" has an identity with neither hostname nor machineId — set identity\.hostname/,
    ],
    ["an uppercase hostname", { identity: { hostname: "Srv-1" } }, /nodes\[0\]\.identity\.hostname/],
    [
      "a machine-id that is not 32 hex digits",
      { identity: { machineId: "not-a-machine-id" } },
      /nodes\[0\]\.identity\.machineId: .*32 lowercase hex digits/,
    ],
    ["an unknown identity key", { identity: { hostname: "a", uuid: "x" } }, /nodes\[0\]\.identity/],
    ["decommissioned as a string", { decommissioned: "yes" }, /nodes\[0\]\.decommissioned/],
  ];
  for (const [what, extra, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parsePlatform(withNode0(extra)),
        (e: unknown) => e instanceof Error && message.test(e.message),
      );
    });
  }
});

describe("nodeprep: NIC selectors and profiles in the node's state", () => {
  const fleet = () => {
    const cfg = multiNodeConfig() as Record<string, any>;
    cfg.profiles = {
      "gen-2": {
        physicalFunctions: [
          {
            selector: { vendor: "8086", device: "159b", port: 0, count: 2 },
            numVfs: 8,
            mtu: 9000,
            ranges: [
              { vfs: "0-3", pool: "media_a" },
              { vfs: "4-7", pool: "signalling" },
            ],
          },
          { name: "ens9f0", numVfs: 2, driver: "netdevice", pool: "pods_net" },
        ],
      },
      plain: { physicalFunctions: [{ name: "ens9f0", numVfs: 2, driver: "netdevice", pool: "pods_net" }] },
    };
    cfg.nodes.push(
      { profile: "gen-2", name: "g2-1", ssh: { host: "10.2.0.1" } },
      { profile: "plain", name: "p-1", ssh: { host: "10.3.0.1" } },
    );
    return parsePlatform(cfg);
  };

  it("renders a selector as one select line with its config path; groups refer to it like to a pf", () => {
    const s = renderNodeState(fleet().nodes[2]);
    assert.deepStrictEqual(s.pfs[0].selector, {
      count: 2,
      where: 'profiles["gen-2"].physicalFunctions[0]',
      vendor: "8086",
      device: "159b",
      port: 0,
    });
    assert.strictEqual(s.profile, "gen-2");
    const lines = renderStateLines(s).split("\n");
    assert.deepStrictEqual(
      lines.filter((l) => /^(profile|pf|select|group) /.test(l)),
      [
        "profile gen-2",
        'select 8086 159b - 0 2 8 9000 profiles["gen-2"].physicalFunctions[0]',
        "pf ens9f0 - 2 -",
        "group 0 0 3 vfio-pci media_a - - - - - - -",
        "group 0 4 7 vfio-pci signalling - - - - - - -",
        "group 1 0 1 netdevice pods_net - - - - - - -",
      ],
    );
  });

  it("a profile node without selectors renders exactly as the same node written out (no profile line)", () => {
    const m = fleet();
    const p1 = m.nodes[3];
    assert.strictEqual(renderNodeState(p1).profile, undefined);
    const cfg = multiNodeConfig() as Record<string, any>;
    cfg.nodes.push({ ...p1.config });
    const written = parsePlatform(cfg).nodes[2];
    assert.strictEqual(renderStateLines(renderNodeState(p1)), renderStateLines(renderNodeState(written)));
  });

  it("refuses a selector state that could reach the shell as more than a word", () => {
    const base = renderNodeState(fleet().nodes[2]);
    const withSel = (sel: Record<string, unknown>) => ({
      ...base,
      pfs: [{ ...base.pfs[0], selector: { ...base.pfs[0].selector!, ...sel } }],
    });
    assert.throws(
      () => renderStateLines(withSel({ pfName: "ens* f0" })),
      /pfs\[0\]\.selector\.pfName: "ens\* f0" is not a valid interface name pattern/,
    );
    assert.throws(() => renderStateLines(withSel({ vendor: "8086; reboot" })), /selector\.vendor/);
    assert.throws(() => renderStateLines(withSel({ where: "profiles.a b" })), /selector\.where/);
    assert.throws(
      () => renderStateLines(withSel({ vendor: undefined, device: undefined })),
      /needs a vendor, a device or a pfName/,
    );
    assert.throws(
      () => renderStateLines({ ...base, pfs: [{ ...base.pfs[0], name: "ens1f0" }] }),
      /has a selector and a name or pciAddress/,
    );
    assert.throws(
      () => renderStateLines({ ...base, profile: "Gen 2" }),
      /profile: "Gen 2" is not a valid profile name/,
    );
  });
});

describe("nodeprep: renderRemoteCommand", () => {
  const state = nodeState([allOn("ens1f0", 4)]);

  function unpack(command: string): { script: string; state: string } {
    const block = (tag: string) => {
      const m = new RegExp(`<<"${tag}"[^\\n]*\\n([A-Za-z0-9+/=\\n]*)\\n${tag}\\n`).exec(command);
      assert.ok(m, `no ${tag} here-document`);
      return Buffer.from(m[1].replace(/\n/g, ""), "base64");
    };
    return {
      script: gunzipSync(block("KUBEVIRT_SRIOV_SCRIPT")).toString("utf8"),
      state: block("KUBEVIRT_SRIOV_STATE").toString("utf8"),
    };
  }

  it("carries the script and the state inline, byte for byte", () => {
    const cmd = renderRemoteCommand("apply", state);
    const { script, state: lines } = unpack(cmd);
    assert.strictEqual(script, nodeScript());
    assert.strictEqual(script, fs.readFileSync(path.join(__dirname, "..", "..", "node", "sriov-node.sh"), "utf8"));
    assert.strictEqual(lines, renderStateLines(state));
  });

  it("is deterministic and changes only with the state or the verb", () => {
    assert.strictEqual(
      renderRemoteCommand("apply", state),
      renderRemoteCommand("apply", nodeState([allOn("ens1f0", 4)])),
    );
    assert.notStrictEqual(
      renderRemoteCommand("apply", state),
      renderRemoteCommand("apply", nodeState([allOn("ens1f0", 5)])),
    );
    assert.notStrictEqual(renderRemoteCommand("apply", state), renderRemoteCommand("revert", state));
  });

  it("wraps everything in sh -c with no other single quote, runs the verb on the state, cleans up", () => {
    const cmd = renderRemoteCommand("revert", state);
    assert.ok(cmd.startsWith("sh -c '") && cmd.endsWith("\n'"));
    assert.strictEqual(cmd.split("'").length, 3);
    assert.match(cmd, /\nbash "\$d\/sriov-node\.sh" revert <"\$d\/state"\n'$/);
    assert.match(cmd, /trap "rm -rf -- \\"\$d\\"" EXIT/);
  });

  it("puts sudo, roots and PATH inline (no AcceptEnv needed)", () => {
    const cmd = renderRemoteCommand("apply", state, {
      sudo: true,
      roots: { sysfs: "/tmp/x/sys", etc: "/tmp/x/etc" },
      pathPrefix: "/tmp/x/bin",
    });
    assert.match(
      cmd,
      /\nsudo -n env SYSFS_ROOT=\/tmp\/x\/sys ETC_ROOT=\/tmp\/x\/etc PATH=\/tmp\/x\/bin:\$PATH bash "\$d\/sriov-node\.sh" apply <"\$d\/state"\n'$/,
    );
    assert.throws(() => renderRemoteCommand("apply", state, { roots: { sysfs: "/tmp/x'; reboot" } }), /roots\.sysfs/);
    assert.throws(() => renderRemoteCommand("apply", state, { pathPrefix: "relative/bin" }), /pathPrefix/);
  });

  it("rejects an invalid state instead of rendering it", () => {
    assert.throws(() => renderRemoteCommand("apply", nodeState([allOn("ens1f0`id`", 4)])), /pfs\[0\]\.name/);
  });

  it("runs under a plain POSIX sh (dash) and removes its temp dir", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nodeprep-cmd-"));
    try {
      // discover reads only; the roots point at an empty tree.
      fs.mkdirSync(path.join(tmp, "sys/bus/pci/devices"), { recursive: true });
      fs.mkdirSync(path.join(tmp, "proc"));
      fs.writeFileSync(path.join(tmp, "proc/cmdline"), "ro quiet\n");
      const cmd = renderRemoteCommand("discover", state, { roots: { sysfs: `${tmp}/sys`, proc: `${tmp}/proc` } });
      const r = spawnSync("/bin/dash", ["-c", cmd], {
        encoding: "utf8",
        env: { PATH: process.env.PATH, TMPDIR: tmp, KERNEL_RELEASE: "6.1.0-test" },
      });
      assert.strictEqual(r.status, 0, r.stderr);
      const d = parseDiscovery(r.stdout);
      assert.deepStrictEqual([d.kernel, d.iommu.cmdline, d.pfs], ["6.1.0-test", "ro quiet", []]);
      assert.deepStrictEqual(
        fs.readdirSync(tmp).filter((f) => f.startsWith("kubevirt-sriov.")),
        [],
        "temp dir removed",
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("stays well under the 128 KiB limit of one exec argument", () => {
    const big = nodeState(
      Array.from({ length: 16 }, (_, i) => ({
        name: `ens${i}f0`,
        numVfs: 64,
        mtu: 9000,
        vfGroups: Array.from({ length: 8 }, (_, j) => ({
          first: j * 8,
          last: j * 8 + 7,
          driver: "vfio-pci" as const,
          pool: `pool${j}`,
          vlan: 100 + j,
        })),
      })),
    );
    assert.ok(Buffer.byteLength(renderRemoteCommand("apply", big)) < 100 * 1024);
  });
});

describe("nodeprep: parseNodeReport", () => {
  const report = {
    schema: 1,
    kernel: "6.1.0-18-amd64",
    iommu: { enabled: true, groups: 42, cmdline: "ro intel_iommu=on iommu=pt" },
    vfio: { loaded: true, loadable: true },
    pfs: [
      {
        name: "ens1f0",
        pciAddress: "0000:10:00.0",
        vendor: "0x8086",
        device: "0x1572",
        driver: "i40e",
        totalVfs: 64,
        numVfs: 2,
        numaNode: 0,
        linkState: "up",
        mtu: 9000,
        vfs: [
          { index: 0, pciAddress: "0000:10:02.0", driver: "vfio-pci", iommuGroup: "12" },
          { index: 1, pciAddress: "0000:10:02.1", driver: null, iommuGroup: null },
        ],
      },
    ],
    verb: "apply",
    node: "k8s-node1",
    apply: { writes: 7, changedPfs: ["0000:10:00.0"] },
    kernelChanges: [],
    rebootRequired: false,
    vfioReady: true,
  };
  const stdout = (o: unknown) => `some progress\n${JSON.stringify(o)}\n\n`;

  it("parses the last non-empty line into a typed report", () => {
    const r = parseNodeReport(stdout(report));
    assert.strictEqual(r.pfs[0].vfs[0].driver, "vfio-pci");
    assert.strictEqual(r.apply.writes, 7);
    assert.strictEqual(r.vfioReady, true);
  });

  const malformed: [string, string, RegExp][] = [
    ["empty stdout", "", /node report: the node script printed nothing on stdout/],
    ["only blank lines", "\n \n", /printed nothing/],
    [
      "a last line that is not JSON",
      "apply: 3 writes\n",
      /node report: the last line of stdout is not JSON .*: apply: 3 writes/,
    ],
    ["truncated JSON", JSON.stringify(report).slice(0, 80), /not JSON/],
    ["a JSON string", '"ok"', /node report: malformed report: \(root\): /],
    ["null", "null", /malformed report/],
    [
      "a discovery (no apply section)",
      JSON.stringify({ ...report, verb: "discover", apply: undefined }),
      /verb: .*; apply: /,
    ],
    ["a wrong schema version", JSON.stringify({ ...report, schema: 2 }), /schema: /],
    [
      "a bad PCI address",
      JSON.stringify({ ...report, pfs: [{ ...report.pfs[0], pciAddress: "10:00.0" }] }),
      /pfs\.0\.pciAddress: not a PCI address/,
    ],
    [
      "a VF count as a string",
      JSON.stringify({ ...report, pfs: [{ ...report.pfs[0], numVfs: "2" }] }),
      /pfs\.0\.numVfs/,
    ],
    [
      "a bad link state",
      JSON.stringify({ ...report, pfs: [{ ...report.pfs[0], linkState: "UP" }] }),
      /pfs\.0\.linkState/,
    ],
    ["kernelChanges not a list", JSON.stringify({ ...report, kernelChanges: "iommu=pt" }), /kernelChanges/],
  ];
  for (const [what, out, message] of malformed) {
    it(`rejects ${what} with a clear message`, () => {
      assert.throws(
        () => parseNodeReport(out),
        (e: unknown) => e instanceof Error && !(e instanceof TypeError) && message.test(e.message),
      );
    });
  }

  it("rejects non-string input with an Error, not a TypeError", () => {
    for (const v of [undefined, null, 42, {}]) {
      assert.throws(
        () => parseNodeReport(v as unknown as string),
        (e: unknown) =>
          e instanceof Error && !(e instanceof TypeError) && /expected the script's stdout as a string/.test(e.message),
      );
    }
  });

  it("property: arbitrary stdout either parses or fails with a 'node report:' Error", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.constant(JSON.stringify(report))), (out) => {
        try {
          parseNodeReport(out);
        } catch (e) {
          assert.ok(
            e instanceof Error && !(e instanceof TypeError) && e.message.startsWith("node report: "),
            String(e),
          );
        }
      }),
      { numRuns: 1000 },
    );
  });
});
