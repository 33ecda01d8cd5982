// The schema and the renderers agree: every config the schema accepts renders. The arbitraries
// below generate valid stacks from the schema's own bounds (LIMITS), leaning on the edges
// (names at their longest, every character the patterns allow at the start and the end, the
// largest numbers), and every pure renderer must then run without throwing and produce names
// Kubernetes, the device plugin and the kernel accept. The checks of those names are written
// from the upstream rules, not copied from the schema, so a pattern that is too loose shows.
import { strict as assert } from "assert";
import fc from "fast-check";
import { HOSTNAME_LABEL, labelsAfterUp, RESOURCE_NAME_ANNOTATION } from "../../config/labels";
import type { PlatformModel } from "../../config/model";
import { LIMITS, type PlatformInput } from "../../config/schema";
import { parsePlatform } from "../../config/validate";
import { planPlatform } from "../../plan";
import { renderNetworkData, renderUserData } from "../../render/cloudInit";
import { renderDevicePluginConfigMap } from "../../render/devicePlugin";
import { agentImages, whereaboutsImage } from "../../render/images";
import { gateDemand } from "../../config/kubevirtGates";
import { renderKubevirtCr } from "../../render/kubevirt";
import { renderNad } from "../../render/nad";
import { renderNodeState } from "../../render/nodePlan";
import { renderRemoteCommand, renderStateLines } from "../../render/nodeState";
import { renderSippArgs, sippRunFor } from "../../render/sipp";
import { cloudInitSecretName, renderVmObject } from "../../render/vmSpec";

// ---- the upstream rules, written independently of the schema ----------------------------

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const isDnsLabel = (s: string) => s.length >= 1 && s.length <= 63 && DNS1123_LABEL.test(s);
/** IsDNS1123Subdomain: dot-separated RFC 1123 labels, 253 characters in all (no limit per label). */
const isDnsSubdomain = (s: string) =>
  s.length >= 1 && s.length <= 253 && s.split(".").every((l) => DNS1123_LABEL.test(l));
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** k8s.io/apimachinery IsQualifiedName: [DNS-subdomain prefix '/'] name (≤ 63). */
function isQualifiedName(s: string): boolean {
  const parts = s.split("/");
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (parts.length === 2 && !isDnsSubdomain(parts[0])) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}
const isLabelValue = (v: string) => v === "" || (v.length <= 63 && QUALIFIED_NAME.test(v));
/** Kubernetes IsExtendedResourceName: prefixed, not kubernetes.io, and "requests.<name>" qualified. */
function isExtendedResourceName(r: string): boolean {
  if (!r.includes("/") || r.includes("kubernetes.io/") || r.startsWith("requests.")) return false;
  return isQualifiedName(`requests.${r}`);
}
/** The SR-IOV device plugin's own rule for resourceName. */
const DEVICE_PLUGIN_RESOURCE = /^[a-zA-Z0-9_]+$/;
/** ConfigMap data keys (IsConfigMapKey). */
const isConfigMapKey = (k: string) => k.length <= 253 && /^[-._a-zA-Z0-9]+$/.test(k) && k !== "." && k !== "..";
/** distribution/reference grammar, with a tag or a digest. */
const DOMAIN = String.raw`(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?`;
const PATH_COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`;
const PINNED_REFERENCE = new RegExp(
  String.raw`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`,
);
const isPinnedImage = (ref: string) =>
  PINNED_REFERENCE.test(ref) &&
  /(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$/.test(ref.replace(/^[^/]*\//, "")) &&
  ref.length <= 512;
const U32 = 0xffffffff;

function assertLabels(map: Record<string, string> | undefined, where: string): void {
  for (const [k, v] of Object.entries(map ?? {})) {
    assert.ok(isQualifiedName(k), `${where}: label key ${JSON.stringify(k)}`);
    assert.ok(isLabelValue(v), `${where}: label value ${JSON.stringify(v)} of ${k}`);
  }
}

/** Runs every pure renderer on the model and checks what it produces. */
function renderEverything(model: PlatformModel): void {
  const cfg = model.config;
  planPlatform(model);

  const dp = renderDevicePluginConfigMap(model);
  for (const [key, doc] of Object.entries(dp.data)) {
    assert.ok(isConfigMapKey(key), `ConfigMap key ${JSON.stringify(key)} (${key.length} characters)`);
    for (const r of (JSON.parse(doc) as { resourceList: { resourceName: string; resourcePrefix: string }[] })
      .resourceList) {
      assert.ok(DEVICE_PLUGIN_RESOURCE.test(r.resourceName), `device plugin resourceName ${r.resourceName}`);
      assert.ok(
        isExtendedResourceName(`${r.resourcePrefix}/${r.resourceName}`),
        `extended resource ${r.resourcePrefix}/${r.resourceName}`,
      );
    }
  }
  for (const n of dp.nodes) assert.ok(isDnsSubdomain(n), `node name ${n}`);

  for (const net of model.networks.values()) {
    const nad = renderNad(net);
    assert.ok(isDnsLabel(nad.metadata.name) && isDnsLabel(nad.metadata.namespace), `NAD ${net.ref}`);
    assert.ok(
      isExtendedResourceName(nad.metadata.annotations[RESOURCE_NAME_ANNOTATION]),
      `NAD resource ${nad.metadata.annotations[RESOURCE_NAME_ANNOTATION]}`,
    );
    const cni = JSON.parse(nad.spec.config) as Record<string, unknown>;
    for (const k of ["min_tx_rate", "max_tx_rate"])
      if (cni[k] !== undefined)
        assert.ok(Number.isInteger(cni[k]) && (cni[k] as number) <= U32, `${net.ref} ${k} ${cni[k]}`);
    assert.ok((cni.vlan as number) >= 0 && (cni.vlan as number) <= 4094);
  }

  for (const node of model.nodes) {
    assert.ok(isDnsSubdomain(node.config.name), `node ${node.config.name}`);
    const state = renderNodeState(node);
    renderStateLines(state);
    for (const verb of ["apply", "revert", "discover"] as const)
      renderRemoteCommand(verb, state, { sudo: node.config.ssh.user !== "root" });
    const { [HOSTNAME_LABEL]: _kubeletOwns, ...patch } = labelsAfterUp(node.config);
    assertLabels(patch, `node ${node.config.name} labels`);
  }

  for (const vm of model.vms) {
    const userData = renderUserData(vm, model);
    const networkData = renderNetworkData(vm);
    const obj = renderVmObject(vm, userData, networkData, { registryMirror: cfg.registryMirror });
    assert.ok(isDnsLabel(obj.metadata!.name!) && isDnsLabel(obj.metadata!.namespace!), `VM ${vm.ref}`);
    assert.ok(isDnsSubdomain(cloudInitSecretName(vm)), `Secret ${cloudInitSecretName(vm)}`);
    assertLabels(obj.metadata!.labels, `VM ${vm.ref} labels`);
    const spec = obj.kind === "VirtualMachine" ? obj.spec.template.spec! : obj.spec;
    assertLabels(spec.nodeSelector, `VM ${vm.ref} nodeSelector`);
    const disk = spec.volumes!.find((v) => v.containerDisk !== undefined)!.containerDisk!.image;
    assert.ok(isPinnedImage(disk), `VM ${vm.ref} image ${disk}`);
    if (vm.config.role === "loadgen") {
      // SIPp reads plain decimal numbers: no exponent, NaN or Infinity.
      const args = renderSippArgs(sippRunFor(vm, model));
      args.forEach((flag, i) => {
        if (["-r", "-l", "-m", "-d", "-timeout"].includes(flag))
          assert.match(args[i + 1], /^\d+(\.\d+)?s?$/, `SIPp ${flag} ${args[i + 1]}`);
      });
    }
  }

  const cr = renderKubevirtCr(cfg.kubevirt, cfg.registryMirror, gateDemand(model));
  assert.ok(isDnsLabel(cr.metadata.namespace));
  for (const part of ["infra", "workloads"] as const) {
    const p = cr.spec[part] as
      | {
          nodePlacement: {
            nodeSelector: Record<string, string>;
            tolerations: { key?: string; value?: string; operator?: string }[];
          };
        }
      | undefined;
    if (!p) continue;
    assertLabels(p.nodePlacement.nodeSelector, `KubeVirt ${part} nodeSelector`);
    for (const t of p.nodePlacement.tolerations) {
      if (t.key !== undefined) assert.ok(isQualifiedName(t.key), `toleration key ${t.key}`);
      if (t.value !== undefined)
        assert.ok(isLabelValue(t.value) && t.operator !== "Exists", `toleration value ${t.value}`);
      if (t.key === undefined) assert.equal(t.operator, "Exists", "a toleration without a key must be operator Exists");
    }
  }
  if (cr.spec.imageRegistry !== undefined)
    assert.ok(
      isPinnedImage(`${cr.spec.imageRegistry}/virt-operator:${cr.spec.imageTag}`),
      `KubeVirt imageRegistry ${cr.spec.imageRegistry}`,
    );

  for (const image of [...Object.values(agentImages(cfg)), whereaboutsImage(cfg)])
    assert.ok(isPinnedImage(image), `image ${image}`);
}

// ---- arbitraries: valid stacks, leaning on the edges ---------------------------------------

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const ALNUM_LOWER = LOWER + DIGITS;
const ALNUM = LOWER + LOWER.toUpperCase() + DIGITS;
const charOf = (set: string) => fc.constantFrom(...set.split(""));

/** Lengths from min to max, the two ends often. */
const lengthIn = (min: number, max: number) => fc.oneof(fc.constant(max), fc.constant(min), fc.integer({ min, max }));

/** A word of `edge` characters at both ends and `middle` ones between. */
function word(edge: string, middle: string, min: number, max: number): fc.Arbitrary<string> {
  return lengthIn(min, max).chain((n) =>
    n === 1
      ? charOf(edge)
      : fc
          .tuple(charOf(edge), fc.string({ unit: charOf(middle), minLength: n - 2, maxLength: n - 2 }), charOf(edge))
          .map(([a, b, c]) => a + b + c),
  );
}

const dnsLabel = (max = 63) => word(ALNUM_LOWER, ALNUM_LOWER + "-", 1, max);

/** A DNS subdomain of at most `max` characters, sometimes exactly `max`. */
function dnsSubdomain(max: number): fc.Arbitrary<string> {
  const exact = fc
    .array(
      dnsLabel(63).filter((l) => l.length === 63),
      { minLength: 4, maxLength: 4 },
    )
    .chain((ls) => {
      const parts: string[] = [];
      let len = 0;
      for (const l of ls) {
        const room = max - len - (parts.length > 0 ? 1 : 0);
        if (room <= 0) break;
        parts.push(l.slice(0, Math.min(63, room)).replace(/-+$/, "") || "a");
        len = parts.join(".").length;
      }
      return fc.constant(parts.join("."));
    });
  const random = fc
    .array(dnsLabel(20), { minLength: 1, maxLength: 4 })
    .map((ls) => ls.join("."))
    .filter((s) => s.length <= max);
  return fc.oneof(exact, random);
}

const labelName = word(ALNUM, ALNUM + "-_.", 1, 63);
const labelValue = fc.oneof(fc.constant(""), word(ALNUM, ALNUM + "-_.", 1, 63));
const labelKey = fc.oneof(
  labelName,
  fc.tuple(dnsSubdomain(253), labelName).map(([p, n]) => `${p}/${n}`),
);
const OWNED = (k: string) => /^(kubevirt\.io|[^/]*\.kubevirt\.io|kubevirt-sriov)\//.test(k) || k === HOSTNAME_LABEL;
const labelMap = (allowOwned: boolean) =>
  fc.dictionary(allowOwned ? labelKey : labelKey.filter((k) => !OWNED(k)), labelValue, { maxKeys: 3 });

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."));
const host = fc.oneof(
  ipv4,
  fc.constantFrom("::1", "fe80::1", "2001:db8::11"),
  fc
    .array(word(ALNUM, ALNUM + "-", 1, 63), { minLength: 1, maxLength: 3 })
    .map((ls) => ls.join("."))
    .filter((h) => h.length <= 253 && !/^[\d.]+$/.test(h)),
);
const posixUser = fc
  .tuple(charOf(LOWER + "_"), fc.string({ unit: charOf(ALNUM_LOWER + "_-"), maxLength: 31 }))
  .map(([a, b]) => a + b);
const configKeyPart = fc
  .tuple(charOf(ALNUM.replace(/\d/g, "")), fc.string({ unit: charOf(ALNUM + "_.-"), maxLength: 20 }))
  .map(([a, b]) => a + b);
/** A secret's config key: bare (the project's namespace) or `namespace:key`. */
const secretKeyName = fc
  .tuple(fc.option(configKeyPart, { nil: undefined }), configKeyPart)
  .map(([ns, key]) => (ns === undefined ? key : `${ns}:${key}`));
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsWJp1kW2m9yU3s0e3Jq3b8B0tqvV1Zb1k5mQ0nXyZ1";

const sshEndpoint = (production: boolean) =>
  fc.record(
    {
      host,
      port: fc.oneof(fc.constant(1), fc.constant(65535), fc.integer({ min: 1, max: 65535 })),
      user: posixUser,
      hostKey: production ? fc.constant(HOST_KEY) : fc.option(fc.constant(HOST_KEY), { nil: undefined }),
      privateKeySecret: fc.option(secretKeyName, { nil: undefined }),
    },
    { requiredKeys: production ? ["host", "hostKey"] : ["host"] },
  );

/** Interface names: letters, digits, '_', '.', '-', starting with a letter or digit. */
const ifName = fc.oneof(
  word(ALNUM, ALNUM + "_.-", 1, 15),
  fc.tuple(word(ALNUM, ALNUM + "_.-", 1, 14), charOf("_.-")).map(([w, c]) => w + c),
);
const pciAddress = fc
  .tuple(fc.nat(0xffff), fc.nat(0xff), fc.nat(0x1f), fc.nat(7))
  .map(
    ([d, b, s, f]) =>
      `${d.toString(16).padStart(4, "0")}:${b.toString(16).padStart(2, "0")}:${s.toString(16).padStart(2, "0")}.${f}`,
  );
const poolName = word(ALNUM, ALNUM + "_", 1, LIMITS.poolName);
const poolPrefix = dnsSubdomain(LIMITS.poolPrefix).filter(
  (p) => !p.endsWith("kubernetes.io") && !p.startsWith("requests."),
);
const txRate = fc.oneof(fc.constant(0), fc.constant(LIMITS.txRateMbps), fc.integer({ min: 0, max: LIMITS.txRateMbps }));
const count = (max: number) => fc.oneof(fc.constant(0), fc.constant(max), fc.integer({ min: 0, max }));
const tag = word(ALNUM + "_", ALNUM + "_.-", 1, 128).filter((t) => t !== "latest");
const pathComponent = (middle: string) =>
  word(ALNUM_LOWER, ALNUM_LOWER + middle, 1, 20).filter((c) => new RegExp(`^${PATH_COMPONENT}$`).test(c));
/** A repository path; its first component has no '.', which would make it a registry. */
const imagePath = fc
  .tuple(pathComponent("_-"), fc.array(pathComponent("._-"), { maxLength: 2 }))
  .map(([first, rest]) => [first, ...rest].join("/"));
const registry = fc
  .tuple(
    fc.array(dnsLabel(20), { minLength: 1, maxLength: 3 }),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  )
  .map(([ls, port]) => `${ls.length === 1 ? `${ls[0]}.example` : ls.join(".")}${port === undefined ? "" : `:${port}`}`);
const digest = fc.string({ unit: charOf("0123456789abcdef"), minLength: 64, maxLength: 64 }).map((h) => `@sha256:${h}`);
const image = fc
  .tuple(
    fc.option(registry, { nil: undefined }),
    imagePath,
    fc.option(tag, { nil: undefined }),
    fc.option(digest, { nil: undefined }),
  )
  .filter(([, , t, d]) => t !== undefined || d !== undefined)
  .map(([r, p, t, d]) => `${r === undefined ? "" : `${r}/`}${p}${t === undefined ? "" : `:${t}`}${d ?? ""}`);
const mirror = fc
  .tuple(registry, fc.option(imagePath, { nil: undefined }))
  .map(([r, p]) => (p === undefined ? r : `${r}/${p}`));
const release = fc.constantFrom("v1.9.0", "v1.8.2", "v1.10.0-rc.1", "v0.0.0", "v10.20.30");
const toleration = fc.oneof(
  fc.record(
    {
      key: labelKey,
      operator: fc.constant("Equal" as const),
      value: labelValue,
      effect: fc.constantFrom("NoSchedule" as const, "PreferNoSchedule" as const, "NoExecute" as const),
    },
    { requiredKeys: ["key"] },
  ),
  fc.record(
    {
      key: labelKey,
      operator: fc.constant("Exists" as const),
      effect: fc.constantFrom("NoSchedule" as const, "NoExecute" as const),
    },
    { requiredKeys: ["operator"] },
  ),
);
const placementArb = fc.record(
  { nodeSelector: labelMap(true), tolerations: fc.array(toleration, { maxLength: 2 }) },
  { requiredKeys: [] },
);

interface PfGen {
  byName: boolean;
  name: string;
  pci: string;
  numVfs: number;
  /** Cut points that split the VFs into consecutive spans, each to a pool; undefined = one pool. */
  cuts: number[] | undefined;
  skip: boolean[];
  pools: number[];
  netdevice: boolean;
  mtu: number | undefined;
  vfSettings:
    | {
        trust?: boolean;
        spoofchk?: boolean;
        linkState?: "auto" | "enable" | "disable";
        minTxRate?: number;
        maxTxRate?: number;
      }
    | undefined;
  numaNode: number | undefined;
}

const pfArb: fc.Arbitrary<PfGen> = fc.record({
  byName: fc.boolean(),
  name: ifName,
  pci: pciAddress,
  numVfs: fc.oneof(
    fc.constant(0),
    fc.constant(1),
    fc.constant(LIMITS.numVfs),
    fc.integer({ min: 0, max: LIMITS.numVfs }),
  ),
  cuts: fc.option(fc.uniqueArray(fc.integer({ min: 1, max: LIMITS.numVfs - 1 }), { maxLength: 6 }), { nil: undefined }),
  skip: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  pools: fc.array(fc.nat(16), { minLength: 8, maxLength: 8 }),
  netdevice: fc.boolean(),
  mtu: fc.option(fc.oneof(fc.constant(68), fc.constant(9702), fc.integer({ min: 68, max: 9702 })), { nil: undefined }),
  vfSettings: fc.option(
    fc
      .record(
        {
          trust: fc.boolean(),
          spoofchk: fc.boolean(),
          linkState: fc.constantFrom("auto" as const, "enable" as const, "disable" as const),
          minTxRate: txRate,
          maxTxRate: txRate,
        },
        { requiredKeys: [] },
      )
      .map((s) =>
        s.minTxRate !== undefined && s.maxTxRate !== undefined && s.maxTxRate > 0 && s.minTxRate > s.maxTxRate
          ? { ...s, minTxRate: s.maxTxRate }
          : s,
      ),
    { nil: undefined },
  ),
  numaNode: fc.option(fc.integer({ min: 0, max: 63 }), { nil: undefined }),
});

const nodeArb = (production: boolean) =>
  fc.record({
    name: dnsSubdomain(LIMITS.nodeName),
    ssh: sshEndpoint(production),
    bastion: fc.option(sshEndpoint(production), { nil: undefined }),
    pinned: fc.constant(HOST_KEY),
    pfs: fc.array(pfArb, { minLength: 1, maxLength: 4 }),
    allowDisruption: fc.boolean(),
    iommu: fc.constantFrom("intel" as const, "amd" as const),
    bootHugepages: fc.record({ "1Gi": count(LIMITS.hugepages1Gi), "2Mi": count(LIMITS.hugepages2Mi) }),
    writeBootloader: fc.boolean(),
    capacity: fc.record({
      dedicatedCpus: count(LIMITS.cpus),
      hugepages1Gi: count(LIMITS.hugepages1Gi),
      hugepages2Mi: count(LIMITS.hugepages2Mi),
    }),
    labels: labelMap(false),
  });

const networkArb = fc.record({
  name: dnsLabel(),
  namespace: dnsLabel(),
  pool: fc.nat(16),
  vlan: fc.oneof(fc.constant(0), fc.constant(4094), fc.integer({ min: 0, max: 4094 })),
  vlanQoS: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
  vlanProto: fc.option(fc.constantFrom("802.1q" as const, "802.1ad" as const), { nil: undefined }),
  spoofchk: fc.option(fc.constantFrom("on" as const, "off" as const), { nil: undefined }),
  trust: fc.option(fc.constantFrom("on" as const, "off" as const), { nil: undefined }),
  linkState: fc.option(fc.constantFrom("auto" as const, "enable" as const, "disable" as const), { nil: undefined }),
  minTxRate: fc.option(txRate, { nil: undefined }),
  maxTxRate: fc.option(txRate, { nil: undefined }),
  mtu: fc.option(fc.integer({ min: 68, max: 9702 }), { nil: undefined }),
  ipam: fc.constantFrom("none", "static", "host-local", "whereabouts"),
  withSubnet: fc.boolean(),
});

const vmArb = fc.record({
  name: dnsLabel(),
  namespace: dnsLabel(),
  role: fc.constantFrom("pbx" as const, "loadgen" as const, "custom" as const),
  kind: fc.constantFrom("VirtualMachine" as const, "VirtualMachineInstance" as const),
  image: fc.option(image, { nil: undefined }),
  cpus: fc.oneof(fc.constant(1), fc.constant(256), fc.integer({ min: 1, max: 256 })),
  memory: fc.oneof(fc.constant(1), fc.constant(LIMITS.memoryGi), fc.integer({ min: 1, max: LIMITS.memoryGi })),
  memoryInMi: fc.boolean(),
  dedicatedCpus: fc.boolean(),
  isolate: fc.boolean(),
  hugepages: fc.constantFrom("1Gi" as const, "2Mi" as const, "none" as const),
  numa: fc.boolean(),
  nodeSelector: labelMap(true),
  networks: fc.array(fc.nat(16), { minLength: 1, maxLength: 4 }),
  gateway: fc.boolean(),
  mac: fc.boolean(),
  guestUser: posixUser,
  extension: fc.string({ unit: charOf(ALNUM + "_+*#-"), minLength: 1, maxLength: 32 }),
  sipPort: fc.integer({ min: 1, max: 65535 }),
  answer: fc.constantFrom("echo" as const, "prompt-echo" as const),
  allowAll: fc.boolean(),
  rate: fc.oneof(
    fc.constant(LIMITS.loadgen.rateMin),
    fc.constant(LIMITS.loadgen.rateMax),
    fc.double({ min: LIMITS.loadgen.rateMin, max: LIMITS.loadgen.rateMax, noNaN: true }),
  ),
  concurrency: fc.oneof(
    fc.constant(1),
    fc.constant(LIMITS.loadgen.concurrency),
    fc.integer({ min: 1, max: LIMITS.loadgen.concurrency }),
  ),
  calls: fc.oneof(fc.constant(1), fc.constant(LIMITS.loadgen.calls), fc.integer({ min: 1, max: LIMITS.loadgen.calls })),
  holdMs: fc.oneof(
    fc.constant(0),
    fc.constant(LIMITS.loadgen.holdMs),
    fc.integer({ min: 0, max: LIMITS.loadgen.holdMs }),
  ),
  runAtBoot: fc.boolean(),
  userData: fc.string({ minLength: 1, maxLength: 3000 }),
});

const stackArb = fc.boolean().chain((production) =>
  fc.record({
    production: fc.constant(production),
    environment: fc.constantFrom("lab" as const, "dev" as const, "staging" as const),
    registryMirror: fc.option(mirror, { nil: undefined }),
    images: fc.record(
      { multus: image, sriovDevicePlugin: image, sriovCni: image, networkResourcesInjector: image },
      { requiredKeys: [] },
    ),
    versions: fc.record(
      { multus: release, sriovDevicePlugin: release, sriovCni: release, networkResourcesInjector: release },
      { requiredKeys: [] },
    ),
    agentNamespace: dnsLabel(),
    kubevirt: fc.record({
      version: release,
      namespace: dnsLabel(),
      featureGates: fc.uniqueArray(
        fc.constantFrom("CPUManager", "NUMA", "Snapshot", "HotplugVolumes", "LiveMigration"),
        { maxLength: 3 },
      ),
      disabledFeatureGates: fc.uniqueArray(fc.constantFrom("Snapshot", "ExpandDisks"), { maxLength: 2 }),
      injector: fc.boolean(),
      infra: placementArb,
      workloads: placementArb,
      url: fc.boolean(),
    }),
    pools: fc.uniqueArray(
      fc.record({ name: poolName, prefix: fc.option(poolPrefix, { nil: undefined }), excludeTopology: fc.boolean() }),
      { minLength: 1, maxLength: 4, selector: (p) => p.name },
    ),
    nodes: fc.uniqueArray(nodeArb(production), { minLength: 1, maxLength: 4, selector: (n) => n.name }),
    networks: fc.uniqueArray(networkArb, { maxLength: 5, selector: (n) => `${n.namespace}/${n.name}` }),
    vms: fc.uniqueArray(vmArb, { maxLength: 6, selector: (v) => v.name }),
  }),
);

type Stack = typeof stackArb extends fc.Arbitrary<infer T> ? T : never;

/** Assembles a cross-consistent stack: the pool of netdevice VFs is never one a VM uses. */
function toConfig(s: Stack): PlatformInput {
  const pools = s.pools.map((p) => ({
    name: p.name,
    ...(p.prefix !== undefined && { prefix: p.prefix }),
    excludeTopology: p.excludeTopology,
  }));
  // With two pools or more, the last one takes every netdevice VF and no VM uses it.
  const netdevicePool = pools.length >= 2 ? pools.length - 1 : -1;
  const vfioPools = pools.length >= 2 ? pools.length - 1 : 1;
  const vfioPool = (i: number) => pools[i % vfioPools].name;

  const nodes: PlatformInput["nodes"] = s.nodes.map((n) => {
    const seen = new Set<string>();
    const pfs = n.pfs
      .filter((pf) => {
        const key = pf.byName ? `n:${pf.name}` : `p:${pf.pci}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .map((pf) => {
        const netdevice = pf.netdevice && netdevicePool >= 0;
        const base = {
          ...(pf.byName ? { name: pf.name } : { pciAddress: pf.pci }),
          numVfs: pf.numVfs,
          driver: netdevice ? ("netdevice" as const) : ("vfio-pci" as const),
          ...(pf.mtu !== undefined && { mtu: pf.mtu }),
          ...(pf.vfSettings !== undefined && { vfSettings: pf.vfSettings }),
          ...(pf.numaNode !== undefined && { numaNode: pf.numaNode }),
        };
        const poolOf = (i: number) => (netdevice ? pools[netdevicePool].name : vfioPool(pf.pools[i % 8]));
        if (pf.cuts === undefined || pf.numVfs < 2) return { ...base, pool: poolOf(0) };
        const bounds = [0, ...pf.cuts.filter((c) => c < pf.numVfs).sort((a, b) => a - b), pf.numVfs];
        const ranges = [];
        for (let i = 0; i + 1 < bounds.length; i++) {
          if (pf.skip[i % 8] && i > 0) continue;
          const [a, b] = [bounds[i], bounds[i + 1] - 1];
          ranges.push({ vfs: a === b ? `${a}` : `${a}-${b}`, pool: poolOf(i) });
        }
        return { ...base, ranges };
      });
    return {
      name: n.name,
      // A node behind a jump host must pin its host key.
      ssh: n.bastion === undefined ? n.ssh : { ...n.ssh, hostKey: n.pinned },
      ...(n.bastion !== undefined && { bastion: n.bastion }),
      physicalFunctions: pfs,
      allowDisruption: n.allowDisruption,
      iommu: n.iommu,
      bootHugepages: n.bootHugepages,
      writeBootloader: n.writeBootloader,
      capacity: n.capacity,
      labels: n.labels,
    };
  });

  const networks = s.networks.map((n, i) => {
    const onNetdevice = netdevicePool >= 0 && n.pool % 4 === 0;
    const subnet = `10.${i}.0.0/16`;
    const ipam =
      n.ipam === "host-local"
        ? {
            type: "host-local" as const,
            subnet,
            rangeStart: `10.${i}.200.1`,
            rangeEnd: `10.${i}.200.254`,
            gateway: `10.${i}.0.1`,
          }
        : n.ipam === "whereabouts"
          ? { type: "whereabouts" as const, range: `10.${i}.128.0/17` }
          : { type: n.ipam as "none" | "static" };
    const vlan = n.vlan;
    return {
      name: n.name,
      namespace: n.namespace,
      pool: onNetdevice ? pools[netdevicePool].name : vfioPool(n.pool),
      vlan,
      ...(vlan > 0 && n.vlanQoS !== undefined && { vlanQoS: n.vlanQoS }),
      ...(vlan > 0 && n.vlanProto !== undefined && { vlanProto: n.vlanProto }),
      ...(n.spoofchk !== undefined && { spoofchk: n.spoofchk }),
      ...(n.trust !== undefined && { trust: n.trust }),
      ...(n.linkState !== undefined && { linkState: n.linkState }),
      ...(n.minTxRate !== undefined && {
        minTxRate: n.maxTxRate !== undefined && n.maxTxRate > 0 ? Math.min(n.minTxRate, n.maxTxRate) : n.minTxRate,
      }),
      ...(n.maxTxRate !== undefined && { maxTxRate: n.maxTxRate }),
      ...(n.mtu !== undefined && { mtu: n.mtu }),
      ipam,
      ...(n.withSubnet && { subnet }),
      vmUsable: !onNetdevice,
      index: i,
    };
  });
  const vmNetworks = networks.filter((n) => n.vmUsable);

  let hostSeq = 10;
  const firstPbx = s.vms.find((v) => v.role === "pbx");
  const vms =
    vmNetworks.length === 0
      ? []
      : s.vms.map((v) => {
          const role = v.role === "loadgen" && firstPbx === undefined ? ("custom" as const) : v.role;
          const picked = [...new Set(v.networks.map((k) => k % vmNetworks.length))];
          // A load generator calls from the network its PBX answers on.
          if (role === "loadgen" || role === "pbx") picked.unshift(0);
          const nets = [...new Set(picked)].map((k) => vmNetworks[k]);
          const hugepages = v.hugepages;
          const memory = hugepages === "1Gi" || !v.memoryInMi ? `${v.memory}Gi` : `${v.memory * 2}Mi`;
          const interfaces = nets.map((net) => {
            hostSeq++;
            const i = net.index;
            return {
              network: `${net.namespace}/${net.name}`,
              address: `10.${i}.${(hostSeq >> 8) & 127}.${hostSeq & 255}/16`,
              ...(v.gateway && { gateway: `10.${i}.0.1` }),
              ...(v.mac && {
                mac: `02:00:00:00:${((hostSeq >> 8) & 255).toString(16).padStart(2, "0")}:${(hostSeq & 255).toString(16).padStart(2, "0")}`,
              }),
            };
          });
          const extension = firstPbx?.extension ?? "100";
          return {
            name: v.name,
            namespace: v.namespace,
            role,
            kind: v.kind,
            ...(v.image !== undefined && { image: v.image }),
            cpus: v.cpus,
            memory,
            tuning: {
              dedicatedCpus: v.dedicatedCpus,
              isolateEmulatorThread: v.dedicatedCpus && v.isolate,
              hugepages,
              numaPassthrough: v.numa && v.dedicatedCpus && hugepages !== "none",
            },
            nodeSelector: v.nodeSelector,
            interfaces,
            guestUser: v.guestUser,
            ...(role === "pbx" && {
              pbx: {
                extension: v === firstPbx ? v.extension : extension,
                sipPort: v.sipPort,
                answer: v.answer,
                ...(v.allowAll && { allowFrom: "0.0.0.0/0" }),
              },
            }),
            ...(role === "loadgen" && {
              loadgen: {
                target: firstPbx!.name,
                extension: firstPbx!.extension,
                rate: v.rate,
                concurrency: v.concurrency,
                calls: v.calls,
                holdMs: v.holdMs,
                runAtBoot: v.runAtBoot,
              },
            }),
            ...(role === "custom" && { custom: { userData: v.userData } }),
          };
        });

  const kv = s.kubevirt;
  const injectorUsable = kv.injector;
  const old = kv.version === "v1.8.2" || kv.version === "v0.0.0";
  return {
    environment: s.production ? "production" : s.environment,
    ...(s.registryMirror !== undefined && { registryMirror: s.registryMirror }),
    images: s.images,
    versions: s.versions,
    agentNamespace: s.agentNamespace,
    kubevirt: {
      version: kv.version,
      namespace: kv.namespace,
      featureGates: injectorUsable && old ? [...kv.featureGates, "ExternalNetResourceInjection"] : kv.featureGates,
      disabledFeatureGates: kv.disabledFeatureGates,
      networkResourcesInjector: injectorUsable,
      operatorManifest: kv.url ? { url: "https://mirror.example.internal/kubevirt-operator.yaml" } : {},
      infra: kv.infra,
      workloads: kv.workloads,
    },
    nodes,
    pools,
    networks: networks.map(({ vmUsable: _u, index: _i, ...n }) => n),
    vms,
  } as PlatformInput;
}

describe("schema and renderers agree (property)", function () {
  this.timeout(300_000);

  it("every config the schema accepts renders, with names Kubernetes and the device plugin accept", () => {
    fc.assert(
      fc.property(stackArb, (s) => {
        renderEverything(parsePlatform(toConfig(s)));
      }),
      { numRuns: 300, seed: 1207 },
    );
  });

  it("the largest node the schema accepts renders into one command that fits an exec argument", () => {
    const pool = (i: number) =>
      `p${String(i).padStart(2, "0")}${"x".repeat(LIMITS.poolName - 4)}_`.slice(0, LIMITS.poolName - 1) + "z";
    const pools = Array.from({ length: 8 }, (_, i) => ({ name: pool(i), prefix: "a".repeat(63) + ".example.com" }));
    const settings = {
      trust: true,
      spoofchk: true,
      linkState: "disable" as const,
      minTxRate: LIMITS.txRateMbps,
      maxTxRate: LIMITS.txRateMbps,
    };
    // Every PF split into single VFs until the node's VF groups reach their limit.
    let groups = 0;
    const physicalFunctions = Array.from({ length: LIMITS.physicalFunctionsPerNode }, (_, i) => {
      const numVfs = LIMITS.numVfs;
      const ranges: { vfs: string; pool: string; driver: "netdevice" }[] = [];
      for (let vf = 0; vf < numVfs && groups < LIMITS.vfGroupsPerNode; vf++, groups++)
        ranges.push({ vfs: `${vf}`, pool: pools[(i + vf) % 8].name, driver: "netdevice" });
      const name = `e${String(i).padStart(2, "0")}abcdefghijk_-`.slice(0, 15).replace(/[-_]$/, "z");
      return ranges.length > 0
        ? { name, numVfs, driver: "netdevice" as const, mtu: 9702, vfSettings: settings, ranges }
        : { name, numVfs: 0, mtu: 9702, vfSettings: settings };
    });
    const name = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(LIMITS.nodeName - 3 * 64)].join(".");
    const model = parsePlatform({
      nodes: [
        {
          name,
          ssh: { host: "x".repeat(63) + ".example.com", user: "u".repeat(32) },
          physicalFunctions,
          bootHugepages: { "1Gi": LIMITS.hugepages1Gi, "2Mi": LIMITS.hugepages2Mi },
          capacity: {
            dedicatedCpus: LIMITS.cpus,
            hugepages1Gi: LIMITS.hugepages1Gi,
            hugepages2Mi: LIMITS.hugepages2Mi,
          },
        },
      ],
      pools,
    });
    assert.equal(
      model.nodes[0].pfs.reduce((n, pf) => n + pf.groups.length, 0),
      LIMITS.vfGroupsPerNode,
    );
    renderEverything(model);
  });
});
