import { strict as assert } from "assert";
import * as fc from "fast-check";
import { ConfigError } from "../../config/errors";
import { cidr, memoryQuantity, said, schemaFix, vm } from "../../config/schema";
import { fromZodIssue, parsePlatform, platformConfigValue } from "../../config/validate";
import { multiNodeConfig } from "../fixtures/stacks";
import { loadStackConfig } from "../harness/stacks";

type Cfg = Record<string, any>;

/** Malformed configs: each mutation of a valid config, the path and words its message must name. */
const cases: Array<[string, (c: Cfg) => void, string, RegExp]> = [
  ["missing nodes", (c) => delete c.nodes, "platform.nodes", /is required/],
  ["empty nodes", (c) => (c.nodes = []), "platform.nodes", /at least 1/],
  ["missing pools", (c) => delete c.pools, "platform.pools", /is required/],
  [
    "unknown top-level key",
    (c) => (c.networkz = []),
    "platform",
    /unknown key "networkz".*remove it or fix its spelling/,
  ],
  ["unknown node key", (c) => (c.nodes[0].sshHost = "x"), "platform.nodes[0]", /unknown key "sshHost"/],
  ["node name uppercase", (c) => (c.nodes[0].name = "Worker-A"), "platform.nodes[0].name", /RFC 1123/],
  ["node without ssh", (c) => delete c.nodes[0].ssh, "platform.nodes[0].ssh", /is required/],
  [
    "ssh port out of range",
    (c) => (c.nodes[0].ssh.port = 70000),
    "platform.nodes[0].ssh.port",
    /above the maximum 65535/,
  ],
  ["ssh port not a number", (c) => (c.nodes[0].ssh.port = "22"), "platform.nodes[0].ssh.port", /must be a number/],
  ["bad host key", (c) => (c.nodes[0].ssh.hostKey = "AAAAC3Nz"), "platform.nodes[0].ssh.hostKey", /ssh-keyscan/],
  [
    "key and password both",
    (c) => Object.assign(c.nodes[0].ssh, { privateKeySecret: "k", passwordSecret: "p" }),
    "platform.nodes[0].ssh",
    /both privateKeySecret and passwordSecret/,
  ],
  ["duplicate node", (c) => (c.nodes[1].name = "worker-a"), "platform.nodes[1].name", /duplicate node "worker-a"/],
  [
    "PF with name and address",
    (c) => (c.nodes[0].physicalFunctions[0].pciAddress = "0000:01:00.0"),
    "platform.nodes[0].physicalFunctions[0]",
    /exactly one of name, pciAddress or selector/,
  ],
  [
    "PF with neither name nor address",
    (c) => delete c.nodes[1].physicalFunctions[0].pciAddress,
    "platform.nodes[1].physicalFunctions[0]",
    /exactly one of name, pciAddress or selector/,
  ],
  [
    "bad PCI address",
    (c) => (c.nodes[1].physicalFunctions[0].pciAddress = "3b:00.0"),
    "platform.nodes[1].physicalFunctions[0].pciAddress",
    /full lowercase PCI address/,
  ],
  [
    "interface name too long",
    (c) => (c.nodes[0].physicalFunctions[0].name = "enp175s0f0np0abcd"),
    "platform.nodes[0].physicalFunctions[0].name",
    /at most 15 characters/,
  ],
  [
    "duplicate PF name",
    (c) => (c.nodes[0].physicalFunctions[1].name = "ens1f0"),
    "platform.nodes[0].physicalFunctions[1].name",
    /duplicate physical function "ens1f0"/,
  ],
  [
    "duplicate PCI address",
    (c) => c.nodes[1].physicalFunctions.push({ pciAddress: "0000:3b:00.0", numVfs: 2, pool: "media_a" }),
    "platform.nodes[1].physicalFunctions[1].pciAddress",
    /duplicate physical function "0000:3b:00.0"/,
  ],
  [
    "negative VF count",
    (c) => (c.nodes[0].physicalFunctions[1].numVfs = -1),
    "platform.nodes[0].physicalFunctions[1].numVfs",
    /below the minimum 0/,
  ],
  [
    "production jump host without a pinned key",
    (c) => (c.environment = "production"),
    "platform.nodes[1].bastion.hostKey",
    /the jump host of node "worker-b" has no pinned SSH host key, and a production stack does not trust keys on first use — pin it: pulumi config set --path 'platform\.nodes\[1\]\.bastion\.hostKey' "\$\(ssh-keyscan -t ed25519 -p 22 bastion\.example\.internal 2>\/dev\/null/,
  ],
  [
    "production node without a pinned key",
    (c) => {
      c.environment = "production";
      delete c.nodes[0].ssh.hostKey;
    },
    "platform.nodes[0].ssh.hostKey",
    /node "worker-a" has no pinned SSH host key, and a production stack does not trust keys on first use — pin it: pulumi config set --path 'platform\.nodes\[0\]\.ssh\.hostKey' "\$\(ssh-keyscan -t ed25519 -p 22 10\.0\.0\.11 /,
  ],
  [
    "production node behind a jump host without a pinned key",
    (c) => {
      c.environment = "production";
      c.nodes[0].bastion = {
        host: "jump.example.internal",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsWJp1kW2m9yU3s0e3Jq3b8B0tqvV1Zb1k5mQ0nXyZ1",
      };
      delete c.nodes[0].ssh.hostKey;
    },
    "platform.nodes[0].ssh.hostKey",
    /pin it: pulumi config set --path 'platform\.nodes\[0\]\.ssh\.hostKey' "\$\(ssh -p 22 root@jump\.example\.internal ssh-keyscan -t ed25519 -p 22 10\.0\.0\.11 2>/,
  ],
  [
    "fractional VF count",
    (c) => (c.nodes[0].physicalFunctions[1].numVfs = 2.5),
    "platform.nodes[0].physicalFunctions[1].numVfs",
    /must be an integer, got 2.5 — write an integer value/,
  ],
  [
    "unknown VF driver",
    (c) => (c.nodes[0].physicalFunctions[1].driver = "igb_uio"),
    "platform.nodes[0].physicalFunctions[1].driver",
    /use one of: "vfio-pci", "netdevice"/,
  ],
  [
    "PF with pool and ranges",
    (c) => (c.nodes[0].physicalFunctions[0].pool = "media_a"),
    "platform.nodes[0].physicalFunctions[0]",
    /exactly one of pool or ranges/,
  ],
  [
    "PF with VFs but no pool",
    (c) => delete c.nodes[0].physicalFunctions[1].pool,
    "platform.nodes[0].physicalFunctions[1]",
    /exactly one of pool or ranges/,
  ],
  [
    "VF range syntax",
    (c) => (c.nodes[0].physicalFunctions[0].ranges[0].vfs = "0..7"),
    "platform.nodes[0].physicalFunctions[0].ranges[0].vfs",
    /VF indexes like/,
  ],
  [
    "VF range backwards",
    (c) => (c.nodes[0].physicalFunctions[0].ranges[0].vfs = "7-0"),
    "platform.nodes[0].physicalFunctions[0].ranges[0].vfs",
    /runs backwards/,
  ],
  [
    "VF ranges overlap",
    (c) => (c.nodes[0].physicalFunctions[0].ranges[1].vfs = "6-15"),
    "platform.nodes[0].physicalFunctions[0].ranges",
    /VF ranges overlap \(0-7 and 6-15\)/,
  ],
  [
    "VF range beyond count",
    (c) => (c.nodes[0].physicalFunctions[0].ranges[1].vfs = "8-16"),
    "platform.nodes[0].physicalFunctions[0].ranges[1].vfs",
    /VF 16 does not exist: the PF gets 16 VFs.*raise numVfs to at least 17/,
  ],
  [
    "PF names unknown pool",
    (c) => (c.nodes[0].physicalFunctions[1].pool = "nope"),
    "platform.nodes[0].physicalFunctions[1].pool",
    /unknown pool "nope"/,
  ],
  [
    "MTU out of range on PF",
    (c) => (c.nodes[0].physicalFunctions[1].mtu = 20000),
    "platform.nodes[0].physicalFunctions[1].mtu",
    /above the maximum 9702/,
  ],
  [
    "resource name with hyphen",
    (c) => (c.pools[1].name = "signal-ling"),
    "platform.pools[1].name",
    /characters the device plugin refuses.*rename it, e.g. "signal_ling"/,
  ],
  [
    "resource name with dot",
    (c) => (c.pools[2].name = "pods.net"),
    "platform.pools[2].name",
    /characters the device plugin refuses/,
  ],
  ["duplicate pool", (c) => (c.pools[1].name = "media_a"), "platform.pools[1].name", /duplicate pool "media_a"/],
  ["bad resource prefix", (c) => (c.pools[0].prefix = "Intel_COM"), "platform.pools[0].prefix", /DNS subdomain/],
  [
    "bad device type",
    (c) => (c.pools[0].deviceType = "vdpa"),
    "platform.pools[0].deviceType",
    /use one of: "netDevice"/,
  ],
  [
    "bad vendor id",
    (c) => (c.pools[0].vendors = ["0x8086"]),
    "platform.pools[0].vendors[0]",
    /4-digit lowercase hex vendor/,
  ],
  [
    "network names unknown pool",
    (c) => (c.networks[0].pool = "media_b"),
    "platform.networks[0].pool",
    /unknown pool "media_b".*media_a, signalling, pods_net/,
  ],
  [
    "duplicate network",
    (c) => (c.networks[1].name = "media"),
    "platform.networks[1].name",
    /duplicate network "voip\/media"/,
  ],
  [
    "network name not a DNS label",
    (c) => (c.networks[0].name = "Media_Net"),
    "platform.networks[0].name",
    /RFC 1123 label/,
  ],
  ["VLAN above 4094", (c) => (c.networks[0].vlan = 4095), "platform.networks[0].vlan", /VLAN 4095 is outside 0–4094/],
  ["negative VLAN", (c) => (c.networks[0].vlan = -1), "platform.networks[0].vlan", /outside 0–4094/],
  ["vlanQoS without VLAN", (c) => (c.networks[2].vlanQoS = 3), "platform.networks[2].vlanQoS", /no VLAN \(vlan 0\)/],
  ["vlanQoS above 7", (c) => (c.networks[0].vlanQoS = 8), "platform.networks[0].vlanQoS", /outside 0–7/],
  ["vlanProto without VLAN", (c) => (c.networks[2].vlanProto = "802.1ad"), "platform.networks[2].vlanProto", /no VLAN/],
  ["network MTU too small", (c) => (c.networks[0].mtu = 60), "platform.networks[0].mtu", /MTU 60 is outside 68–9702/],
  ["network MTU too large", (c) => (c.networks[0].mtu = 10000), "platform.networks[0].mtu", /outside 68–9702/],
  [
    "min rate above max rate",
    (c) => (c.networks[0].minTxRate = 2000),
    "platform.networks[0].minTxRate",
    /exceeds maxTxRate/,
  ],
  [
    "spoofchk as boolean",
    (c) => (c.networks[0].spoofchk = false),
    "platform.networks[0].spoofchk",
    /use one of: "on", "off"/,
  ],
  [
    "unknown IPAM type",
    (c) => (c.networks[0].ipam = { type: "dhcp" }),
    "platform.networks[0].ipam.type",
    /"dhcp" is not allowed — use one of: "none", "static", "host-local", "whereabouts"/,
  ],
  [
    "host-local without subnet",
    (c) => delete c.networks[1].ipam.subnet,
    "platform.networks[1].ipam.subnet",
    /is required/,
  ],
  ["bad KubeVirt version", (c) => (c.kubevirt.version = "1.9"), "platform.kubevirt.version", /release tag like v1.9.0/],
  [
    "bad Multus version",
    (c) => (c.versions = { multus: "latest" }),
    "platform.versions.multus",
    /release tag like v1.9.0/,
  ],
  [
    "SRIOV feature gate",
    (c) => (c.kubevirt.featureGates = ["SRIOV"]),
    "platform.kubevirt.featureGates[0]",
    /no longer exists.*SR-IOV needs no gate/,
  ],
  [
    "injection gate without injector",
    (c) => (c.kubevirt.featureGates = ["ExternalNetResourceInjection"]),
    "platform.kubevirt.featureGates[0]",
    /without a VF/,
  ],
  [
    "manifest file and url",
    (c) => (c.kubevirt.operatorManifest = { file: "a.yaml", url: "https://mirror.example/a.yaml" }),
    "platform.kubevirt.operatorManifest",
    /both file and url/,
  ],
  [
    "bad manifest sha",
    (c) => (c.kubevirt.operatorManifest = { sha256: "abc" }),
    "platform.kubevirt.operatorManifest.sha256",
    /64 lowercase hex/,
  ],
  [
    "image override without tag",
    (c) => (c.images = { multus: "ghcr.io/k8snetworkplumbingwg/multus-cni" }),
    "platform.images.multus",
    /no tag or digest/,
  ],
  [
    "image override latest",
    (c) => (c.images = { sriovCni: "ghcr.io/k8snetworkplumbingwg/sriov-cni:latest" }),
    "platform.images.sriovCni",
    /moving tag "latest"/,
  ],
  [
    "bad registry mirror",
    (c) => (c.registryMirror = "https://registry.local"),
    "platform.registryMirror",
    /registry host/,
  ],
  ["waitForReadiness as string", (c) => (c.waitForReadiness = "no"), "platform.waitForReadiness", /must be a boolean/],
  [
    "VM on unknown network",
    (c) => (c.vms[0].interfaces[0].network = "nope"),
    "platform.vms[0].interfaces[0].network",
    /unknown network "nope"/,
  ],
  [
    "VM on netdevice pool",
    (c) => c.vms[0].interfaces.push({ network: "default/pods", address: "10.10.0.5/16" }),
    "platform.nodes[0].physicalFunctions[1].driver",
    /pool "pods_net" is used by VM voip\/pbx1 but VFs 0-7 of worker-a\/ens1f1 use the netdevice driver/,
  ],
  [
    "VM range driver netdevice",
    (c) => (c.nodes[1].physicalFunctions[0].ranges[0].driver = "netdevice"),
    "platform.nodes[1].physicalFunctions[0].driver",
    /pool "media_a" is used by VM/,
  ],
  [
    "VM address outside subnet",
    (c) => (c.vms[0].interfaces[0].address = "192.168.101.10/24"),
    "platform.vms[0].interfaces[0].address",
    /outside the network's subnet 192.168.100.0\/24/,
  ],
  [
    "VM address invalid octet",
    (c) => (c.vms[0].interfaces[0].address = "192.168.100.300/24"),
    "platform.vms[0].interfaces[0].address",
    /not a valid IPv4/,
  ],
  [
    "VM duplicate address",
    (c) => (c.vms[1].interfaces[0].address = "192.168.100.10/24"),
    "platform.vms[1].interfaces[0].address",
    /already used on voip\/media by voip\/pbx1/,
  ],
  [
    "VM duplicate MAC",
    (c) => {
      c.vms[0].interfaces[0].mac = "02:00:00:00:00:01";
      c.vms[1].interfaces[0].mac = "02:00:00:00:00:01";
    },
    "platform.vms[1].interfaces[0].mac",
    /already used/,
  ],
  [
    "VM bad MAC",
    (c) => (c.vms[0].interfaces[0].mac = "02-00-00-00-00-01"),
    "platform.vms[0].interfaces[0].mac",
    /lowercase MAC/,
  ],
  ["duplicate VM", (c) => (c.vms[1].name = "pbx1"), "platform.vms[1].name", /duplicate VM "voip\/pbx1"/],
  ["loadgen without block", (c) => delete c.vms[1].loadgen, "platform.vms[1].loadgen", /needs a loadgen block/],
  [
    "loadgen targets non-PBX",
    (c) => (c.vms[1].loadgen.target = "load1"),
    "platform.vms[1].loadgen.target",
    /not a PBX VM/,
  ],
  [
    "role block mismatch",
    (c) => (c.vms[0].loadgen = { target: "pbx1" }),
    "platform.vms[0].loadgen",
    /a pbx VM has a "loadgen" block/,
  ],
  ["custom without userData", (c) => (c.vms[0].role = "custom"), "platform.vms[0].custom", /needs custom.userData/],
  [
    "NUMA passthrough without hugepages",
    (c) => (c.vms[0].tuning = { numaPassthrough: true, hugepages: "none" }),
    "platform.vms[0].tuning.numaPassthrough",
    /needs dedicated CPUs and hugepages/,
  ],
  [
    "emulator thread without dedicated CPUs",
    (c) => (c.vms[0].tuning = { dedicatedCpus: false }),
    "platform.vms[0].tuning.isolateEmulatorThread",
    /needs dedicated CPUs/,
  ],
  [
    "1Gi hugepages with Mi memory",
    (c) => (c.vms[0].memory = "1536Mi"),
    "platform.vms[0].memory",
    /not a whole number of 1Gi hugepages/,
  ],
  ["memory quantity format", (c) => (c.vms[0].memory = "4GB"), "platform.vms[0].memory", /Mi or Gi/],
  ["VM without interfaces", (c) => (c.vms[0].interfaces = []), "platform.vms[0].interfaces", /at least 1/],
  [
    "bad SSH public key",
    (c) => (c.vms[0].sshAuthorizedKeys = ["hello"]),
    "platform.vms[0].sshAuthorizedKeys[0]",
    /OpenSSH public key/,
  ],
  [
    "loadgen calls an extension the PBX does not answer",
    (c) => (c.vms[1].loadgen.extension = "200"),
    "platform.vms[1].loadgen.extension",
    /PBX "pbx1" answers 100/,
  ],
  [
    "loadgen outside the PBX's allowFrom",
    (c) => (c.vms[0].pbx = { allowFrom: "192.168.100.0/28" }),
    "platform.vms[1].interfaces[0].address",
    /outside 192.168.100.0\/28/,
  ],
  ["unknown environment", (c) => (c.environment = "prod"), "platform.environment", /"production"/],
  // ---- issue 12: values the renderers refuse are refused by the schema, with what is allowed ----
  [
    "PF name starting with '_'",
    (c) => (c.nodes[0].physicalFunctions[1].name = "_ens1f1"),
    "platform.nodes[0].physicalFunctions[1].name",
    /"_ens1f1" must be a Linux interface name .*starting with a letter or digit/,
  ],
  [
    "node name too long for <node>.json",
    (c) => (c.nodes[0].name = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(60)}`),
    "platform.nodes[0].name",
    /is longer than 248 characters — shorten it: the device plugin's per-node file "<node>\.json" is a ConfigMap key/,
  ],
  [
    "node name with an empty label",
    (c) => (c.nodes[0].name = "worker..a"),
    "platform.nodes[0].name",
    /"worker\.\.a" must be a lowercase RFC 1123 subdomain: labels of a-z, 0-9 and '-' joined by '\.'/,
  ],
  [
    "pool name over 63 characters",
    (c) => {
      const long = `m${"e".repeat(63)}`;
      c.pools[0].name = long;
      c.nodes[0].physicalFunctions[0].ranges[0].pool = long;
      c.nodes[1].physicalFunctions[0].ranges[0].pool = long;
      c.networks[0].pool = long;
    },
    "platform.pools[0].name",
    /has 64 characters: Kubernetes takes at most 63 in the name of a resource — shorten it to at most 63 characters/,
  ],
  [
    "pool name starting with '_'",
    (c) => (c.pools[1].name = "_signalling"),
    "platform.pools[1].name",
    /"_signalling" starts or ends with '_': Kubernetes refuses such a resource name \(intel\.com\/_signalling\) — start and end it with a letter or digit, e.g. "signalling"/,
  ],
  [
    "pool prefix of Kubernetes",
    (c) => (c.pools[0].prefix = "sriov.kubernetes.io"),
    "platform.pools[0].prefix",
    /"sriov\.kubernetes\.io" is reserved for Kubernetes' own resources.* — use your own domain/,
  ],
  [
    "pool prefix too long",
    (c) => (c.pools[0].prefix = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(60)}`),
    "platform.pools[0].prefix",
    /has 252 characters — shorten it to at most 244: Kubernetes checks "requests\.<prefix>\/<name>"/,
  ],
  [
    "pool prefix with an empty label",
    (c) => (c.pools[0].prefix = "intel..com"),
    "platform.pools[0].prefix",
    /"intel\.\.com" must be a DNS subdomain like intel\.com — use lowercase letters/,
  ],
  [
    "network maxTxRate above 1 Tb/s",
    (c) => (c.networks[0].maxTxRate = 4294967296),
    "platform.networks[0].maxTxRate",
    /4294967296 is above 1000000 Mb\/s \(1 Tb\/s\), the most node preparation and the SR-IOV CNI set — use a rate in Mb\/s up to 1000000/,
  ],
  [
    "PF vfSettings maxTxRate above 1 Tb/s",
    (c) => (c.nodes[0].physicalFunctions[1].vfSettings = { maxTxRate: 2000000 }),
    "platform.nodes[0].physicalFunctions[1].vfSettings.maxTxRate",
    /2000000 is above 1000000 Mb\/s/,
  ],
  [
    "PF vfSettings minTxRate above 1 Tb/s",
    (c) => (c.nodes[0].physicalFunctions[1].vfSettings = { minTxRate: 2000000 }),
    "platform.nodes[0].physicalFunctions[1].vfSettings.minTxRate",
    /2000000 is above 1000000 Mb\/s/,
  ],
  [
    "boot 1Gi hugepages beyond 64 TiB",
    (c) => (c.nodes[0].bootHugepages = { "1Gi": 2000000 }),
    'platform.nodes[0].bootHugepages["1Gi"]',
    /2000000 is above 65536, the most 1Gi pages a node boots with \(64 TiB\) — use at most 65536/,
  ],
  [
    "boot 2Mi hugepages beyond 64 TiB",
    (c) => (c.nodes[0].bootHugepages = { "2Mi": 200000000 }),
    'platform.nodes[0].bootHugepages["2Mi"]',
    /200000000 is above 33554432, the most 2Mi pages/,
  ],
  [
    "capacity beyond any node's CPUs",
    (c) => (c.nodes[0].capacity.dedicatedCpus = 100000),
    "platform.nodes[0].capacity.dedicatedCpus",
    /100000 is above 8192, the most CPUs a node has/,
  ],
  [
    "capacity beyond any node's hugepages",
    (c) => (c.nodes[0].capacity.hugepages1Gi = 9007199254740991),
    "platform.nodes[0].capacity.hugepages1Gi",
    /is above 65536, the most 1Gi pages a node has/,
  ],
  [
    "more PFs than one command carries",
    (c) => (c.nodes[0].physicalFunctions = Array.from({ length: 65 }, (_, i) => ({ name: `eth${i}`, numVfs: 0 }))),
    "platform.nodes[0].physicalFunctions",
    /physicalFunctions: lists more than 64 physical functions, the most node preparation sends in one command/,
  ],
  [
    "more VF ranges than one command carries",
    (c) =>
      (c.nodes[0].physicalFunctions = [0, 1, 2].map((i) => ({
        name: `eth${i}`,
        numVfs: 256,
        ranges: [{ vfs: Array.from({ length: 256 }, (_, v) => v).join(","), pool: "media_a" }],
      }))),
    "platform.nodes[0].physicalFunctions",
    /node "worker-a" splits its VFs into 768 ranges, more than the 384 node preparation sends in one command — merge adjacent ranges/,
  ],
  [
    "load test rate too small for SIPp",
    (c) => (c.vms[1].loadgen.rate = 0.0000001),
    "platform.vms[1].loadgen.rate",
    /1e-7 is below 0\.01 calls per second — use a rate from 0\.01 to 10000/,
  ],
  [
    "load test with too many calls",
    (c) => (c.vms[1].loadgen.calls = 1e12),
    "platform.vms[1].loadgen.calls",
    /1000000000000 is above 10000000 calls in one run/,
  ],
  [
    "load test holding calls for days",
    (c) => (c.vms[1].loadgen.holdMs = 86400000 * 3),
    "platform.vms[1].loadgen.holdMs",
    /259200000 is above 3600000 ms \(one hour\)/,
  ],
  [
    "load test concurrency message",
    (c) => (c.vms[1].loadgen.concurrency = 200000),
    "platform.vms[1].loadgen.concurrency",
    /200000 is above 100000 calls at once — use at most 100000/,
  ],
  [
    "VM memory of zero",
    (c) => (c.vms[0].memory = "0Gi"),
    "platform.vms[0].memory",
    /memory 0Gi is not more than 0 — give the VM its memory/,
  ],
  [
    "VM memory beyond 16 TiB",
    (c) => (c.vms[0].memory = "99999999999Gi"),
    "platform.vms[0].memory",
    /memory 99999999999Gi is above 16384Gi \(16 TiB\)/,
  ],
  [
    "VM memory with a leading zero",
    (c) => (c.vms[0].memory = "04Gi"),
    "platform.vms[0].memory",
    /"04Gi" has a leading zero — write 4Gi/,
  ],
  // ---- issue 12: free text is validated ----
  [
    "IP octet above 255",
    (c) => (c.networks[1].ipam.rangeStart = "192.168.200.256"),
    "platform.networks[1].ipam.rangeStart",
    /"192\.168\.200\.256" is not a valid IPv4 address \(four numbers 0–255, no leading zeros\) — write it like 192\.168\.10\.1/,
  ],
  [
    "IP with a leading zero",
    (c) => (c.networks[1].ipam.gateway = "192.168.200.01"),
    "platform.networks[1].ipam.gateway",
    /not a valid IPv4 address/,
  ],
  [
    "subnet prefix above 32",
    (c) => (c.networks[0].subnet = "192.168.100.0/33"),
    "platform.networks[0].subnet",
    /"192\.168\.100\.0\/33" is not a valid IPv4 address with prefix length \(four numbers 0–255 and a prefix 0–32\) — write it like 192\.168\.10\.0\/24/,
  ],
  [
    "host-local subnet octet",
    (c) => (c.networks[1].ipam.subnet = "192.168.300.0/24"),
    "platform.networks[1].ipam.subnet",
    /not a valid IPv4 address with prefix length/,
  ],
  [
    "whereabouts range prefix",
    (c) => (c.networks[2].ipam.range = "10.10.0.0/99"),
    "platform.networks[2].ipam.range",
    /not a valid IPv4 address with prefix length/,
  ],
  [
    "VM gateway octet",
    (c) => (c.vms[0].interfaces[0].gateway = "192.168.100.999"),
    "platform.vms[0].interfaces[0].gateway",
    /not a valid IPv4 address/,
  ],
  [
    "PBX allowFrom prefix",
    (c) => (c.vms[0].pbx = { allowFrom: "192.168.100.0/64" }),
    "platform.vms[0].pbx.allowFrom",
    /not a valid IPv4 address with prefix length/,
  ],
  [
    "SSH host with a port",
    (c) => (c.nodes[0].ssh.host = "10.0.0.11:2222"),
    "platform.nodes[0].ssh.host",
    /"10\.0\.0\.11:2222" includes a port — write the host alone and the port in its own key: host: 10\.0\.0\.11, port: 2222 \(ssh\.port/,
  ],
  [
    "jump host with a port",
    (c) => (c.nodes[1].bastion.host = "bastion.example.internal:2200"),
    "platform.nodes[1].bastion.host",
    /includes a port .*port: 2200 \(ssh\.port, or bastion\.port/,
  ],
  [
    "SSH host with a user",
    (c) => (c.nodes[0].ssh.host = "root@10.0.0.11"),
    "platform.nodes[0].ssh.host",
    /"root@10\.0\.0\.11" includes a user — write host: 10\.0\.0\.11 and user: root/,
  ],
  [
    "SSH host with shell characters",
    (c) => (c.nodes[0].ssh.host = "10.0.0.11;reboot"),
    "platform.nodes[0].ssh.host",
    /"10\.0\.0\.11;reboot" is not a host name or an IP address — write a DNS name .* without port, user, spaces or shell characters/,
  ],
  [
    "SSH host with a space",
    (c) => (c.nodes[0].ssh.host = "worker a"),
    "platform.nodes[0].ssh.host",
    /"worker a" is not a host name or an IP address/,
  ],
  [
    "SSH host with a newline",
    (c) => (c.nodes[0].ssh.host = "worker-a\nreboot"),
    "platform.nodes[0].ssh.host",
    /is not a host name or an IP address/,
  ],
  [
    "SSH host that is no IP",
    (c) => (c.nodes[0].ssh.host = "10.0.0.300"),
    "platform.nodes[0].ssh.host",
    /"10\.0\.0\.300" is not a valid IPv4 address — use four numbers 0–255/,
  ],
  [
    "VM image without a tag",
    (c) => (c.vms[0].image = "quay.io/containerdisks/ubuntu"),
    "platform.vms[0].image",
    /image "quay\.io\/containerdisks\/ubuntu" has no tag or digest — pin it/,
  ],
  [
    "VM image on latest",
    (c) => (c.vms[0].image = "quay.io/containerdisks/ubuntu:latest"),
    "platform.vms[0].image",
    /uses the moving tag "latest" — pin a release tag or a digest/,
  ],
  [
    "VM image with an uppercase path",
    (c) => (c.vms[0].image = "quay.io/ContainerDisks/ubuntu:24.04"),
    "platform.vms[0].image",
    /is not an image reference: its path is not lowercase .* — write registry\/path:tag or registry\/path@sha256:<64 hex digits>/,
  ],
  [
    "VM image with a space",
    (c) => (c.vms[0].image = "ubuntu 24.04"),
    "platform.vms[0].image",
    /"ubuntu 24\.04" is not an image reference/,
  ],
  [
    "image override with a bad digest",
    (c) => (c.images = { multus: "ghcr.io/k8snetworkplumbingwg/multus-cni@sha256:abc" }),
    "platform.images.multus",
    /is not an image reference: its digest is not sha256: and 64 lowercase hex digits/,
  ],
  [
    "image override with a bad registry",
    (c) => (c.images = { sriovCni: "ghcr_io.example/sriov-cni:v2.10.0" }),
    "platform.images.sriovCni",
    /its registry "ghcr_io\.example" is not a host name/,
  ],
  [
    "node label key with a space",
    (c) => (c.nodes[0].labels = { "rack id": "r1" }),
    'platform.nodes[0].labels["rack id"]',
    /label key "rack id" has a name "rack id" with characters Kubernetes refuses — write an optional DNS-subdomain prefix and '\/'/,
  ],
  [
    "node label key with two slashes",
    (c) => (c.nodes[0].labels = { "example.com/a/b": "x" }),
    'platform.nodes[0].labels["example.com/a/b"]',
    /has more than one '\/'/,
  ],
  [
    "node label key name over 63",
    (c) => (c.nodes[0].labels = { [`example.com/${"r".repeat(64)}`]: "x" }),
    `platform.nodes[0].labels["example.com/${"r".repeat(64)}"]`,
    /has a name of 64 characters \(at most 63\)/,
  ],
  [
    "node label key prefix not a subdomain",
    (c) => (c.nodes[0].labels = { "Example.com/rack": "x" }),
    'platform.nodes[0].labels["Example.com/rack"]',
    /has a prefix "Example\.com" that is not a lowercase DNS subdomain/,
  ],
  [
    "node label value with a space",
    (c) => (c.nodes[0].labels = { rack: "row 12" }),
    "platform.nodes[0].labels.rack",
    /label value "row 12" has characters Kubernetes refuses — use at most 63 letters/,
  ],
  [
    "node label value over 63",
    (c) => (c.nodes[0].labels = { rack: "r".repeat(64) }),
    "platform.nodes[0].labels.rack",
    /label value .* has 64 characters \(at most 63\)/,
  ],
  [
    "node label value ending in '-'",
    (c) => (c.nodes[0].labels = { rack: "r12-" }),
    "platform.nodes[0].labels.rack",
    /label value "r12-" has characters Kubernetes refuses/,
  ],
  [
    "node label value unquoted number",
    (c) => (c.nodes[0].labels = { rack: 12 }),
    "platform.nodes[0].labels.rack",
    /must be a string, got 12 — quote it in YAML/,
  ],
  [
    "node label owned by KubeVirt",
    (c) => (c.nodes[0].labels = { "kubevirt.io/schedulable": "true" }),
    'platform.nodes[0].labels["kubevirt.io/schedulable"]',
    /label "kubevirt\.io\/schedulable" belongs to the platform: KubeVirt sets the kubevirt\.io labels of a node itself — remove it/,
  ],
  [
    "node label owned by KubeVirt's node labeller",
    (c) => (c.nodes[0].labels = { "cpumanager.kubevirt.io/enabled": "true" }),
    'platform.nodes[0].labels["cpumanager.kubevirt.io/enabled"]',
    /belongs to the platform: KubeVirt/,
  ],
  [
    "node label owned by this program",
    (c) => (c.nodes[1].labels = { "kubevirt-sriov/sriov-node": "true" }),
    'platform.nodes[1].labels["kubevirt-sriov/sriov-node"]',
    /belongs to the platform: this program sets the kubevirt-sriov\/ labels itself/,
  ],
  [
    "node label owned by the kubelet",
    (c) => (c.nodes[0].labels = { "kubernetes.io/hostname": "worker-a" }),
    'platform.nodes[0].labels["kubernetes.io/hostname"]',
    /belongs to the platform: the kubelet sets it/,
  ],
  [
    "VM node selector key",
    (c) => (c.vms[0].nodeSelector = { "-rack": "r1" }),
    'platform.vms[0].nodeSelector["-rack"]',
    /label key "-rack" has a name "-rack" with characters Kubernetes refuses/,
  ],
  [
    "KubeVirt placement selector value",
    (c) => (c.kubevirt.infra.nodeSelector = { "node-role.kubernetes.io/control-plane": "yes please" }),
    'platform.kubevirt.infra.nodeSelector["node-role.kubernetes.io/control-plane"]',
    /label value "yes please" has characters Kubernetes refuses/,
  ],
  [
    "toleration key",
    (c) => (c.kubevirt.workloads = { tolerations: [{ key: "bad key", operator: "Exists" }] }),
    "platform.kubevirt.workloads.tolerations[0].key",
    /toleration key "bad key" has a name "bad key" with characters Kubernetes refuses/,
  ],
  [
    "toleration Exists with a value",
    (c) => (c.kubevirt.workloads = { tolerations: [{ key: "dedicated", operator: "Exists", value: "voip" }] }),
    "platform.kubevirt.workloads.tolerations[0].value",
    /operator Exists matches every value, so value "voip" is not allowed — remove value, or use operator: Equal/,
  ],
  [
    "toleration without key or Exists",
    (c) => (c.kubevirt.workloads = { tolerations: [{ effect: "NoSchedule" }] }),
    "platform.kubevirt.workloads.tolerations[0].operator",
    /a toleration without a key must use operator: Exists/,
  ],
  [
    "secret key name message",
    (c) => (c.nodes[0].ssh.privateKeySecret = "1key"),
    "platform.nodes[0].ssh.privateKeySecret",
    /"1key" must be the name of a config key, like sshPrivateKey/,
  ],
  [
    "feature gate message",
    (c) => (c.kubevirt.featureGates = ["CPU-Manager"]),
    "platform.kubevirt.featureGates[0]",
    /"CPU-Manager" must be a KubeVirt feature gate name like CPUManager/,
  ],
  [
    "guest user message",
    (c) => (c.vms[0].guestUser = "Admin"),
    "platform.vms[0].guestUser",
    /"Admin" must be a POSIX user name: at most 32 lowercase letters/,
  ],
  [
    "loadgen extension message",
    (c) => (c.vms[1].loadgen.extension = "1 00"),
    "platform.vms[1].loadgen.extension",
    /"1 00" must be a dialplan extension like 100: at most 32 letters/,
  ],
  [
    "operator manifest URL scheme",
    (c) => (c.kubevirt.operatorManifest = { url: "file:///tmp/kubevirt-operator.yaml" }),
    "platform.kubevirt.operatorManifest.url",
    /must be an http\(s\) URL like https:/,
  ],
  [
    "registry mirror host",
    (c) => (c.registryMirror = "-registry.local/mirror"),
    "platform.registryMirror",
    /"-registry\.local\/mirror" must be a registry host with optional path, like registry\.local:5000\/mirror — write host\[:port\]\[\/path\] without a scheme/,
  ],
  [
    "image tag with a '+'",
    (c) => (c.images = { sriovCni: "ghcr.io/k8snetworkplumbingwg/sriov-cni:v2.10.0+build1" }),
    "platform.images.sriovCni",
    /is not an image reference: its tag has characters other than letters, digits, '_', '\.' and '-'/,
  ],
  [
    "empty label key",
    (c) => (c.nodes[0].labels = { "": "x" }),
    'platform.nodes[0].labels[""]',
    /label key "" is empty — write an optional DNS-subdomain prefix/,
  ],
  [
    "label key prefix over 253",
    (c) =>
      (c.vms[0].nodeSelector = {
        [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}/rack`]: "r1",
      }),
    `platform.vms[0].nodeSelector["${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}/rack"]`,
    /has a prefix of 255 characters \(at most 253\)/,
  ],
  [
    "toleration value",
    (c) => (c.kubevirt.infra.tolerations = [{ key: "dedicated", operator: "Equal", value: "voip pbx" }]),
    "platform.kubevirt.infra.tolerations[0].value",
    /toleration value "voip pbx" has characters Kubernetes refuses/,
  ],
  [
    "pool prefix for quotas",
    (c) => (c.pools[0].prefix = "requests.example.com"),
    "platform.pools[0].prefix",
    /starts with "requests\.", which Kubernetes keeps for quotas/,
  ],
  [
    "load test rate above 10000",
    (c) => (c.vms[1].loadgen.rate = 20000),
    "platform.vms[1].loadgen.rate",
    /20000 is above 10000 calls per second — use a rate from 0\.01 to 10000/,
  ],
  ["empty name says so", (c) => (c.networks[0].name = ""), "platform.networks[0].name", /: is empty — write a value/],
  [
    "too long a name says how long",
    (c) => (c.networks[0].name = "m".repeat(64)),
    "platform.networks[0].name",
    /has 64 characters, more than the maximum 63 — shorten it to at most 63 characters/,
  ],
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

  it("a missing platform key is a config error that names the key and says how to set it", () => {
    assert.throws(
      () => platformConfigValue(undefined, "prod-east"),
      (e: unknown) =>
        e instanceof ConfigError &&
        /^missing stack configuration \(1 problem\):\n {2}- kubevirt-sriov:platform: is not set in stack "prod-east", .* — add a "kubevirt-sriov:platform:" map under "config:" in stacks\/Pulumi\.prod-east\.yaml \(copy it from stacks\/Pulumi\.example\.yaml\), or set its keys one by one, e\.g\. pulumi config set --path 'platform\.nodes\[0\]\.name' worker-1; a fleet past ~100 KB goes in a file the stack names: pulumi config set platformFile fleets\/prod-east\.yaml$/.test(
          e.message,
        ),
    );
    assert.deepEqual(platformConfigValue('{"nodes":[]}', "dev"), { nodes: [] });
    // A plain string is passed on, and parsePlatform says it is not a map.
    assert.throws(
      () => parsePlatform(platformConfigValue("worker-1", "dev")),
      (e: unknown) =>
        e instanceof ConfigError && /kubevirt-sriov:platform: must be an object, got "worker-1"/.test(e.message),
    );
  });

  it("accepts what the new checks allow: IPv6 and DNS hosts, pinned images, prefixed labels, a VM selecting the SR-IOV node label", () => {
    const cfg: Cfg = multiNodeConfig();
    cfg.nodes[0].ssh.host = "2001:db8::11";
    cfg.nodes[1].bastion.host = "Bastion-1.example.internal";
    cfg.nodes[0].labels = { "topology.example.com/rack": "r12", "node-role.kubernetes.io/worker": "", zone: "A_1.b-2" };
    cfg.vms[0].image = "registry.local:5000/containerdisks/ubuntu:24.04@sha256:" + "0".repeat(64);
    cfg.vms[0].nodeSelector = { "kubevirt-sriov/sriov-node": "true", "kubevirt.io/schedulable": "true" };
    cfg.images = { multus: "localhost/multus-cni@sha256:" + "a".repeat(64), sriovCni: "sriov-cni:v2.10.0" };
    cfg.kubevirt.workloads = {
      tolerations: [
        { operator: "Exists" },
        { key: "dedicated", operator: "Equal", value: "voip", effect: "NoSchedule" },
      ],
    };
    cfg.vms[1].loadgen = { ...cfg.vms[1].loadgen, rate: 0.01, calls: 10000000, holdMs: 3600000 };
    cfg.pools[2].prefix = "sriov.example.com";
    parsePlatform(cfg);
  });

  it("a non-object config is a config error", () => {
    for (const raw of [null, 42, "nodes", []]) {
      assert.throws(
        () => parsePlatform(raw),
        (e: unknown) => e instanceof ConfigError && /kubevirt-sriov:platform: /.test(e.message),
      );
    }
  });

  it("defaults: intel.com prefix, vlan 0, vfio-pci, pinned versions, waitForReadiness", () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    assert.equal(m.pools.get("sriov_net_A")?.resource, "intel.com/sriov_net_A");
    assert.equal(m.networks.get("default/sriov-net")?.config.vlan, 0);
    assert.ok(m.nodes[0].pfs.every((p) => p.groups.every((g) => g.driver === "vfio-pci")));
    assert.deepEqual(m.config.versions, {
      multus: "v4.3.0",
      sriovDevicePlugin: "v3.11.0",
      sriovCni: "v2.10.0",
      networkResourcesInjector: "v1.9.0",
    });
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
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -100000, max: 100000 }),
  fc.double(),
  fc.string(),
  fc.constantFrom(
    "",
    "-",
    "vfio-pci",
    "0-3",
    "0000:02:00.0",
    "v1.9.0",
    "sriov-net",
    "media_a",
    "x/y",
    "1Gi",
    "10.0.0.1/24",
  ),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.string(), { maxLength: 3 }),
);

function paths(
  value: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
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
      fc.property(
        fc.array(fc.tuple(fc.nat(allPaths.length - 1), leafValues), { minLength: 1, maxLength: 4 }),
        (mutations) => {
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
            for (const line of e.message.split("\n").slice(1))
              assert.match(line, /^ {2}- kubevirt-sriov:platform\S*: .+ — .+$/);
          }
        },
      ),
      { numRuns: 1500, seed: 20261127 },
    );
  });
});

describe("schema problems are data", () => {
  const firstIssue = (result: { success: boolean; error?: { issues: unknown[] } }) => {
    assert.equal(result.success, false);
    return result.error!.issues[0] as Parameters<typeof fromZodIssue>[0];
  };

  it("a refinement's issue: the message is the problem, the fix is in params", () => {
    const issue = firstIssue(memoryQuantity.safeParse("0Gi", { reportInput: true }));
    const [problem, fix] = ["memory 0Gi is not more than 0", "give the VM its memory, e.g. 2Gi"];
    assert.equal(issue.code, "custom");
    assert.equal(issue.message, problem);
    assert.deepEqual((issue as { params?: unknown }).params, { fix });
    assert.deepEqual(fromZodIssue(issue), { path: [], problem, fix });
  });

  it("a built-in check's issue: the message is the problem, the schema keeps its fix", () => {
    const issue = firstIssue(cidr.safeParse("10.0.0.0/33", { reportInput: true }));
    const problem = "is not a valid IPv4 address with prefix length (four numbers 0–255 and a prefix 0–32)";
    assert.equal(issue.code, "invalid_format");
    assert.equal(issue.message, problem);
    const fix = "write it like 192.168.10.0/24";
    assert.equal(schemaFix(issue), fix);
    assert.deepEqual(fromZodIssue(issue), { path: [], problem: `"10.0.0.0/33" ${problem}`, fix });
  });

  it("a wrong type where the schema says what it takes: the value is named after the problem", () => {
    const interfaces = [{ network: "n", address: "10.0.0.1/24" }];
    const pbx = { name: "a", role: "pbx", interfaces, nodeSelector: { rack: 12 } };
    const issue = firstIssue(vm.safeParse(pbx, { reportInput: true }));
    assert.deepEqual(fromZodIssue(issue), {
      path: ["nodeSelector", "rack"],
      problem: "must be a string, got 12",
      fix: 'quote it in YAML, e.g. "12" or "true"',
    });
  });

  it("a message the schema already gave another fix is refused when the schema loads", () => {
    said("is a test message with one fix", "the first fix");
    assert.doesNotThrow(() => said("is a test message with one fix", "the first fix"));
    assert.throws(
      () => said("is a test message with one fix", "another fix"),
      /^Error: schema message "is a test message with one fix" has two fixes: "the first fix", "another fix"$/,
    );
  });
});
