import { strict as assert } from "assert";
import * as fc from "fast-check";
import { ConfigError } from "../../config/errors";
import { parsePlatform } from "../../config/validate";
import { loadStackConfig, multiNodeConfig } from "../fixtures/stacks";

type Cfg = Record<string, any>;

/** Malformed configs: each mutation of a valid config, the path and words its message must name. */
const cases: Array<[string, (c: Cfg) => void, string, RegExp]> = [
  ["missing nodes", (c) => delete c.nodes, "platform.nodes", /is required/],
  ["empty nodes", (c) => (c.nodes = []), "platform.nodes", /at least 1/],
  ["missing pools", (c) => delete c.pools, "platform.pools", /is required/],
  ["unknown top-level key", (c) => (c.networkz = []), "platform", /unknown key "networkz".*remove it or fix its spelling/],
  ["unknown node key", (c) => (c.nodes[0].sshHost = "x"), "platform.nodes[0]", /unknown key "sshHost"/],
  ["node name uppercase", (c) => (c.nodes[0].name = "Worker-A"), "platform.nodes[0].name", /RFC 1123/],
  ["node without ssh", (c) => delete c.nodes[0].ssh, "platform.nodes[0].ssh", /is required/],
  ["ssh port out of range", (c) => (c.nodes[0].ssh.port = 70000), "platform.nodes[0].ssh.port", /above the maximum 65535/],
  ["ssh port not a number", (c) => (c.nodes[0].ssh.port = "22"), "platform.nodes[0].ssh.port", /must be a number/],
  ["bad host key", (c) => (c.nodes[0].ssh.hostKey = "AAAAC3Nz"), "platform.nodes[0].ssh.hostKey", /ssh-keyscan/],
  ["key and password both", (c) => Object.assign(c.nodes[0].ssh, { privateKeySecret: "k", passwordSecret: "p" }), "platform.nodes[0].ssh", /both privateKeySecret and passwordSecret/],
  ["duplicate node", (c) => (c.nodes[1].name = "worker-a"), "platform.nodes[1].name", /duplicate node "worker-a"/],
  ["PF with name and address", (c) => (c.nodes[0].physicalFunctions[0].pciAddress = "0000:01:00.0"), "platform.nodes[0].physicalFunctions[0]", /exactly one of name or pciAddress/],
  ["PF with neither name nor address", (c) => delete c.nodes[1].physicalFunctions[0].pciAddress, "platform.nodes[1].physicalFunctions[0]", /exactly one of name or pciAddress/],
  ["bad PCI address", (c) => (c.nodes[1].physicalFunctions[0].pciAddress = "3b:00.0"), "platform.nodes[1].physicalFunctions[0].pciAddress", /full lowercase PCI address/],
  ["interface name too long", (c) => (c.nodes[0].physicalFunctions[0].name = "enp175s0f0np0abcd"), "platform.nodes[0].physicalFunctions[0].name", /at most 15 characters/],
  ["duplicate PF name", (c) => (c.nodes[0].physicalFunctions[1].name = "ens1f0"), "platform.nodes[0].physicalFunctions[1].name", /duplicate physical function "ens1f0"/],
  ["duplicate PCI address", (c) => c.nodes[1].physicalFunctions.push({ pciAddress: "0000:3b:00.0", numVfs: 2, pool: "media_a" }), "platform.nodes[1].physicalFunctions[1].pciAddress", /duplicate physical function "0000:3b:00.0"/],
  ["negative VF count", (c) => (c.nodes[0].physicalFunctions[1].numVfs = -1), "platform.nodes[0].physicalFunctions[1].numVfs", /below the minimum 0/],
  ["production node without a host key", (c) => (c.environment = "production"), "platform.nodes[1].ssh.hostKey", /node "worker-b" has no SSH host key in a production stack — pin it: hostKey: .*ssh-keyscan -t ed25519 10\.0\.0\.12/],
  ["production bastion without a host key", (c) => (c.environment = "production"), "platform.nodes[1].bastion.hostKey", /the jump host of node "worker-b" has no SSH host key in a production stack .*bastion\.example\.internal/],
  ["fractional VF count", (c) => (c.nodes[0].physicalFunctions[1].numVfs = 2.5), "platform.nodes[0].physicalFunctions[1].numVfs", /must be an integer, got 2.5 — write an integer value/],
  ["unknown VF driver", (c) => (c.nodes[0].physicalFunctions[1].driver = "igb_uio"), "platform.nodes[0].physicalFunctions[1].driver", /use one of: "vfio-pci", "netdevice"/],
  ["PF with pool and ranges", (c) => (c.nodes[0].physicalFunctions[0].pool = "media_a"), "platform.nodes[0].physicalFunctions[0]", /exactly one of pool or ranges/],
  ["PF with VFs but no pool", (c) => delete c.nodes[0].physicalFunctions[1].pool, "platform.nodes[0].physicalFunctions[1]", /exactly one of pool or ranges/],
  ["VF range syntax", (c) => (c.nodes[0].physicalFunctions[0].ranges[0].vfs = "0..7"), "platform.nodes[0].physicalFunctions[0].ranges[0].vfs", /VF indexes like/],
  ["VF range backwards", (c) => (c.nodes[0].physicalFunctions[0].ranges[0].vfs = "7-0"), "platform.nodes[0].physicalFunctions[0].ranges[0].vfs", /runs backwards/],
  ["VF ranges overlap", (c) => (c.nodes[0].physicalFunctions[0].ranges[1].vfs = "6-15"), "platform.nodes[0].physicalFunctions[0].ranges", /VF ranges overlap \(0-7 and 6-15\)/],
  ["VF range beyond count", (c) => (c.nodes[0].physicalFunctions[0].ranges[1].vfs = "8-16"), "platform.nodes[0].physicalFunctions[0].ranges[1].vfs", /VF 16 does not exist: the PF gets 16 VFs.*raise numVfs to at least 17/],
  ["PF names unknown pool", (c) => (c.nodes[0].physicalFunctions[1].pool = "nope"), "platform.nodes[0].physicalFunctions[1].pool", /unknown pool "nope"/],
  ["MTU out of range on PF", (c) => (c.nodes[0].physicalFunctions[1].mtu = 20000), "platform.nodes[0].physicalFunctions[1].mtu", /above the maximum 9702/],
  ["resource name with hyphen", (c) => (c.pools[1].name = "signal-ling"), "platform.pools[1].name", /characters the device plugin refuses.*rename it, e.g. "signal_ling"/],
  ["resource name with dot", (c) => (c.pools[2].name = "pods.net"), "platform.pools[2].name", /characters the device plugin refuses/],
  ["duplicate pool", (c) => (c.pools[1].name = "media_a"), "platform.pools[1].name", /duplicate pool "media_a"/],
  ["bad resource prefix", (c) => (c.pools[0].prefix = "Intel_COM"), "platform.pools[0].prefix", /DNS subdomain/],
  ["bad device type", (c) => (c.pools[0].deviceType = "vdpa"), "platform.pools[0].deviceType", /use one of: "netDevice"/],
  ["bad vendor id", (c) => (c.pools[0].vendors = ["0x8086"]), "platform.pools[0].vendors[0]", /4-digit lowercase hex vendor/],
  ["network names unknown pool", (c) => (c.networks[0].pool = "media_b"), "platform.networks[0].pool", /unknown pool "media_b".*media_a, signalling, pods_net/],
  ["duplicate network", (c) => (c.networks[1].name = "media"), "platform.networks[1].name", /duplicate network "voip\/media"/],
  ["network name not a DNS label", (c) => (c.networks[0].name = "Media_Net"), "platform.networks[0].name", /RFC 1123 label/],
  ["VLAN above 4094", (c) => (c.networks[0].vlan = 4095), "platform.networks[0].vlan", /VLAN 4095 is outside 0–4094/],
  ["negative VLAN", (c) => (c.networks[0].vlan = -1), "platform.networks[0].vlan", /outside 0–4094/],
  ["vlanQoS without VLAN", (c) => (c.networks[2].vlanQoS = 3), "platform.networks[2].vlanQoS", /no VLAN \(vlan 0\)/],
  ["vlanQoS above 7", (c) => (c.networks[0].vlanQoS = 8), "platform.networks[0].vlanQoS", /outside 0–7/],
  ["vlanProto without VLAN", (c) => (c.networks[2].vlanProto = "802.1ad"), "platform.networks[2].vlanProto", /no VLAN/],
  ["network MTU too small", (c) => (c.networks[0].mtu = 60), "platform.networks[0].mtu", /MTU 60 is outside 68–9702/],
  ["network MTU too large", (c) => (c.networks[0].mtu = 10000), "platform.networks[0].mtu", /outside 68–9702/],
  ["min rate above max rate", (c) => (c.networks[0].minTxRate = 2000), "platform.networks[0].minTxRate", /exceeds maxTxRate/],
  ["spoofchk as boolean", (c) => (c.networks[0].spoofchk = false), "platform.networks[0].spoofchk", /use one of: "on", "off"/],
  ["unknown IPAM type", (c) => (c.networks[0].ipam = { type: "dhcp" }), "platform.networks[0].ipam.type", /"dhcp" is not allowed — use one of: "none", "static", "host-local", "whereabouts"/],
  ["host-local without subnet", (c) => delete c.networks[1].ipam.subnet, "platform.networks[1].ipam.subnet", /is required/],
  ["bad KubeVirt version", (c) => (c.kubevirt.version = "1.9"), "platform.kubevirt.version", /release tag like v1.9.0/],
  ["bad Multus version", (c) => (c.versions = { multus: "latest" }), "platform.versions.multus", /release tag like v1.9.0/],
  ["SRIOV feature gate", (c) => (c.kubevirt.featureGates = ["SRIOV"]), "platform.kubevirt.featureGates[0]", /no longer exists.*SR-IOV needs no gate/],
  ["injection gate without injector", (c) => (c.kubevirt.featureGates = ["ExternalNetResourceInjection"]), "platform.kubevirt.featureGates[0]", /without a VF/],
  ["manifest file and url", (c) => (c.kubevirt.operatorManifest = { file: "a.yaml", url: "https://mirror.example/a.yaml" }), "platform.kubevirt.operatorManifest", /both file and url/],
  ["bad manifest sha", (c) => (c.kubevirt.operatorManifest = { sha256: "abc" }), "platform.kubevirt.operatorManifest.sha256", /64 lowercase hex/],
  ["image override without tag", (c) => (c.images = { multus: "ghcr.io/k8snetworkplumbingwg/multus-cni" }), "platform.images.multus", /no tag or digest/],
  ["image override latest", (c) => (c.images = { sriovCni: "ghcr.io/k8snetworkplumbingwg/sriov-cni:latest" }), "platform.images.sriovCni", /moving tag "latest"/],
  ["bad registry mirror", (c) => (c.registryMirror = "https://registry.local"), "platform.registryMirror", /registry host/],
  ["waitForReadiness as string", (c) => (c.waitForReadiness = "no"), "platform.waitForReadiness", /must be a boolean/],
  ["VM on unknown network", (c) => (c.vms[0].interfaces[0].network = "nope"), "platform.vms[0].interfaces[0].network", /unknown network "nope"/],
  ["VM on netdevice pool", (c) => c.vms[0].interfaces.push({ network: "default/pods", address: "10.10.0.5/16" }), "platform.nodes[0].physicalFunctions[1].driver", /pool "pods_net" is used by VM voip\/pbx1 but VFs 0-7 of worker-a\/ens1f1 use the netdevice driver/],
  ["VM range driver netdevice", (c) => (c.nodes[1].physicalFunctions[0].ranges[0].driver = "netdevice"), "platform.nodes[1].physicalFunctions[0].driver", /pool "media_a" is used by VM/],
  ["VM address outside subnet", (c) => (c.vms[0].interfaces[0].address = "192.168.101.10/24"), "platform.vms[0].interfaces[0].address", /outside the network's subnet 192.168.100.0\/24/],
  ["VM address invalid octet", (c) => (c.vms[0].interfaces[0].address = "192.168.100.300/24"), "platform.vms[0].interfaces[0].address", /not a valid IPv4/],
  ["VM duplicate address", (c) => (c.vms[1].interfaces[0].address = "192.168.100.10/24"), "platform.vms[1].interfaces[0].address", /already used on voip\/media by voip\/pbx1/],
  ["VM duplicate MAC", (c) => { c.vms[0].interfaces[0].mac = "02:00:00:00:00:01"; c.vms[1].interfaces[0].mac = "02:00:00:00:00:01"; }, "platform.vms[1].interfaces[0].mac", /already used/],
  ["VM bad MAC", (c) => (c.vms[0].interfaces[0].mac = "02-00-00-00-00-01"), "platform.vms[0].interfaces[0].mac", /lowercase MAC/],
  ["duplicate VM", (c) => (c.vms[1].name = "pbx1"), "platform.vms[1].name", /duplicate VM "voip\/pbx1"/],
  ["loadgen without block", (c) => delete c.vms[1].loadgen, "platform.vms[1].loadgen", /needs a loadgen block/],
  ["loadgen targets non-PBX", (c) => (c.vms[1].loadgen.target = "load1"), "platform.vms[1].loadgen.target", /not a PBX VM/],
  ["role block mismatch", (c) => (c.vms[0].loadgen = { target: "pbx1" }), "platform.vms[0].loadgen", /a pbx VM has a "loadgen" block/],
  ["custom without userData", (c) => (c.vms[0].role = "custom"), "platform.vms[0].custom", /needs custom.userData/],
  ["NUMA passthrough without hugepages", (c) => (c.vms[0].tuning = { numaPassthrough: true, hugepages: "none" }), "platform.vms[0].tuning.numaPassthrough", /needs dedicated CPUs and hugepages/],
  ["emulator thread without dedicated CPUs", (c) => (c.vms[0].tuning = { dedicatedCpus: false }), "platform.vms[0].tuning.isolateEmulatorThread", /needs dedicated CPUs/],
  ["1Gi hugepages with Mi memory", (c) => (c.vms[0].memory = "1536Mi"), "platform.vms[0].memory", /not a whole number of 1Gi hugepages/],
  ["memory quantity format", (c) => (c.vms[0].memory = "4GB"), "platform.vms[0].memory", /Mi or Gi/],
  ["VM without interfaces", (c) => (c.vms[0].interfaces = []), "platform.vms[0].interfaces", /at least 1/],
  ["bad SSH public key", (c) => (c.vms[0].sshAuthorizedKeys = ["hello"]), "platform.vms[0].sshAuthorizedKeys[0]", /OpenSSH public key/],
  ["loadgen calls an extension the PBX does not answer", (c) => (c.vms[1].loadgen.extension = "200"), "platform.vms[1].loadgen.extension", /PBX "pbx1" answers 100/],
  ["loadgen outside the PBX's allowFrom", (c) => (c.vms[0].pbx = { allowFrom: "192.168.100.0/28" }), "platform.vms[1].interfaces[0].address", /outside 192.168.100.0\/28/],
  ["unknown environment", (c) => (c.environment = "prod"), "platform.environment", /"production"/],
];

function expectConfigError(cfg: unknown, path: string, pattern: RegExp): ConfigError {
  try {
    parsePlatform(cfg);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    const line = e.message.split("\n").find((l) => l.includes(`kubevirt-sriov:${path}:`));
    assert.ok(line, `no problem at ${path} in:\n${e.message}`);
    assert.match(line, pattern);
    assert.match(line, /: .+ — .+/, "each problem says what is wrong and how to fix it");
    return e;
  }
  assert.fail(`config was accepted; expected a problem at ${path}`);
}

describe("stack config validation", () => {
  it("accepts the example stacks", () => {
    for (const stack of ["kubecon-demo", "example"]) parsePlatform(loadStackConfig(stack));
    parsePlatform(multiNodeConfig());
  });

  it(`has at least 40 distinct malformed configs (${cases.length})`, () => {
    assert.ok(cases.length >= 40);
    assert.equal(new Set(cases.map((c) => c[0])).size, cases.length);
  });

  for (const [name, mutate, path, pattern] of cases) {
    it(`rejects: ${name}`, () => {
      const cfg: Cfg = multiNodeConfig();
      mutate(cfg);
      expectConfigError(cfg, path, pattern);
    });
  }

  it("lists every cross-field problem in one message", () => {
    const cfg: Cfg = multiNodeConfig();
    cfg.pools[1].name = "sig-nal";
    cfg.networks[0].vlan = 5000;
    cfg.nodes[1].name = "worker-a";
    const e = expectConfigError(cfg, "platform.networks[0].vlan", /outside/);
    assert.ok(e.problems.length >= 3, e.message);
    assert.match(e.message, /^invalid stack configuration \(\d+ problems\):/);
  });

  it("a non-object config is a config error", () => {
    for (const raw of [null, 42, "nodes", []]) {
      assert.throws(() => parsePlatform(raw), (e: unknown) => e instanceof ConfigError && /kubevirt-sriov:platform: /.test(e.message));
    }
  });

  it("defaults: intel.com prefix, vlan 0, vfio-pci, pinned versions, waitForReadiness", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    assert.equal(m.pools.get("sriov_net_A")?.resource, "intel.com/sriov_net_A");
    assert.equal(m.networks.get("default/sriov-net")?.config.vlan, 0);
    assert.ok(m.nodes[0].pfs.every((p) => p.groups.every((g) => g.driver === "vfio-pci")));
    assert.deepEqual(m.config.versions, { multus: "v4.3.0", sriovDevicePlugin: "v3.11.0", sriovCni: "v2.10.0", networkResourcesInjector: "v1.9.0" });
    assert.equal(m.config.kubevirt.version, "v1.9.0");
    assert.equal(m.config.waitForReadiness, true);
  });

  it("the kubecon-demo pools are the talk's: A = 02:00.0 + 02:00.2, B = 02:00.1 + 02:00.3", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    const members = (pool: string) => m.pools.get(pool)?.members.map((x) => x.pf.key);
    assert.deepEqual(members("sriov_net_A"), ["0000:02:00.0", "0000:02:00.2"]);
    assert.deepEqual(members("sriov_net_B"), ["0000:02:00.1", "0000:02:00.3"]);
    assert.equal(m.networks.get("default/sriov-net")?.pool.config.name, "sriov_net_A");
  });
});

// ---- property: random mutations either parse or raise the config error ----------------

const leafValues = fc.oneof(
  fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer({ min: -100000, max: 100000 }), fc.double(),
  fc.string(), fc.constantFrom("", "-", "vfio-pci", "0-3", "0000:02:00.0", "v1.9.0", "sriov-net", "media_a", "x/y", "1Gi", "10.0.0.1/24"),
  fc.constant([]), fc.constant({}), fc.array(fc.string(), { maxLength: 3 }),
);

function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function setAt(root: any, path: (string | number)[], value: unknown): any {
  if (path.length === 0) return value;
  let cur = root;
  for (const seg of path.slice(0, -1)) cur = cur[seg];
  const last = path[path.length - 1];
  if (value === undefined && !Array.isArray(cur)) delete cur[last];
  else cur[last] = value;
  return root;
}

describe("stack config validation (property)", () => {
  it("random mutations of a valid config parse or raise ConfigError, never anything else", () => {
    const base = multiNodeConfig();
    const allPaths = paths(base);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(allPaths.length - 1), leafValues), { minLength: 1, maxLength: 4 }), (mutations) => {
        let cfg: any = structuredClone(base);
        for (const [i, v] of mutations) {
          try {
            cfg = setAt(cfg, allPaths[i], v);
          } catch {
            // The path vanished under an earlier mutation: skip it.
          }
        }
        try {
          parsePlatform(cfg);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          for (const line of e.message.split("\n").slice(1)) assert.match(line, /^ {2}- kubevirt-sriov:platform\S*: .+ — .+$/);
        }
      }),
      { numRuns: 1500, seed: 20261127 },
    );
  });
});
