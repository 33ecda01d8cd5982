// The ONE schema of the stack configuration (key `kubevirt-sriov:platform`).
// Every TypeScript type of the config is inferred from here; defaults live here too.
import { z } from "zod";
import { DEFAULT_VERSIONS } from "./versions";

// ---- reusable shapes -------------------------------------------------------------------

/** A Kubernetes object name (RFC 1123 label). */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message: "must be a lowercase RFC 1123 label (a-z, 0-9, '-', starting and ending alphanumeric)",
  });

/** A Kubernetes node name (RFC 1123 subdomain). */
export const nodeName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
    message: "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')",
  });

/** Full PCI address: domain:bus:device.function, e.g. 0000:02:00.0. */
export const pciAddress = z
  .string()
  .regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/, {
    message: "must be a full lowercase PCI address like 0000:02:00.0",
  });

/** A Linux interface name (IFNAMSIZ 16 incl. NUL, no '/', whitespace or ':'). */
export const ifName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/, {
    message: "must be a Linux interface name of at most 15 characters (letters, digits, '_', '-', '.')",
  });

/** Release version tag like v1.9.0. */
export const releaseVersion = z.string().regex(/^v\d+\.\d+\.\d+(-(rc|beta|alpha)\.\d+)?$/, {
  message: "must be a release tag like v1.9.0",
});

/** A VF range list in the device plugin's syntax without the PF part: "0-3", "0-3,6". */
export const vfRange = z.string().regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, {
  message: "must be VF indexes like \"0-3\" or \"0-3,6\"",
});

export const macAddress = z
  .string()
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, { message: "must be a lowercase MAC like 02:00:00:aa:bb:cc" });

export const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, {
  message: "must be an IPv4 address with prefix length, like 192.168.10.10/24",
});

export const ipv4 = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, { message: "must be an IPv4 address like 192.168.10.1" });

/** Kubernetes quantity limited to what the program does arithmetic on. */
export const memoryQuantity = z.string().regex(/^\d+(Mi|Gi)$/, { message: "must be a quantity in Mi or Gi, like 4Gi" });

const labels = z.record(z.string(), z.string());

export const toleration = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
}).strict();

export const placement = z
  .object({
    nodeSelector: labels.default({}),
    tolerations: z.array(toleration).default([]),
  })
  .strict();

// ---- nodes ----------------------------------------------------------------------------

export const vfDriver = z.enum(["vfio-pci", "netdevice"]);

export const sshEndpoint = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { message: "must be a POSIX user name" }).default("root"),
    /** Pinned host key, as in known_hosts: "ssh-ed25519 AAAA...". Absent = not verified. */
    hostKey: z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+$/, {
      message: "must be a public host key like \"ssh-ed25519 AAAA...\" (from ssh-keyscan)",
    }).optional(),
    /** Name of the secret config key holding the private key (pulumi config set --secret). */
    privateKeySecret: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/).optional(),
    /** Name of the secret config key holding a password, when keys are not used. */
    passwordSecret: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/).optional(),
  })
  .strict();

export const vfAssignment = z
  .object({
    /** VF indexes on this PF, device-plugin syntax: "0-3" or "0-3,6". */
    vfs: vfRange,
    pool: z.string().min(1),
    driver: vfDriver.optional(),
  })
  .strict();

/** Host-side VF settings applied by node preparation (`ip link set <pf> vf N ...`). */
export const vfSettings = z
  .object({
    trust: z.boolean().optional(),
    spoofchk: z.boolean().optional(),
    linkState: z.enum(["auto", "enable", "disable"]).optional(),
    minTxRate: z.number().int().min(0).optional(),
    maxTxRate: z.number().int().min(0).optional(),
  })
  .strict();

export const physicalFunction = z
  .object({
    /** Interface name on the node (e.g. ens1f0) ... */
    name: ifName.optional(),
    /** ... or PCI address (e.g. 0000:02:00.0): exactly one of the two. */
    pciAddress: pciAddress.optional(),
    numVfs: z.number().int().min(0).max(256),
    /** Driver for the VFs: vfio-pci for VMs, netdevice for pods. */
    driver: vfDriver.default("vfio-pci"),
    /** Pool taking every VF of this PF ... */
    pool: z.string().min(1).optional(),
    /** ... or VF ranges, each to its own pool (and optionally its own driver). */
    ranges: z.array(vfAssignment).optional(),
    mtu: z.number().int().min(68).max(9702).optional(),
    vfSettings: vfSettings.optional(),
    /** NUMA node of the PF, when known without discovery (planner uses it). */
    numaNode: z.number().int().min(0).max(63).optional(),
  })
  .strict();

export const nodeCapacity = z
  .object({
    /** CPUs the kubelet's static CPU manager can hand out exclusively. */
    dedicatedCpus: z.number().int().min(0).default(0),
    hugepages1Gi: z.number().int().min(0).default(0),
    hugepages2Mi: z.number().int().min(0).default(0),
  })
  .strict();

export const node = z
  .object({
    /** Kubernetes node name. */
    name: nodeName,
    ssh: sshEndpoint,
    /** SSH jump host (bastion). */
    bastion: sshEndpoint.optional(),
    physicalFunctions: z.array(physicalFunction).min(1),
    /** Allow changing the VF count of PFs whose VFs are in use (disrupts running VMs/pods). */
    allowDisruption: z.boolean().default(false),
    /** CPU vendor: decides the IOMMU kernel arguments reported as required. */
    iommu: z.enum(["intel", "amd"]).default("intel"),
    /** Boot-time hugepages the node should have (reported as kernel changes). */
    bootHugepages: z.object({ "1Gi": z.number().int().min(0).default(0), "2Mi": z.number().int().min(0).default(0) }).strict().default({ "1Gi": 0, "2Mi": 0 }),
    /** Write required kernel arguments to the bootloader config (never reboots). */
    writeBootloader: z.boolean().default(false),
    capacity: nodeCapacity.default({ dedicatedCpus: 0, hugepages1Gi: 0, hugepages2Mi: 0 }),
    labels: labels.default({}),
  })
  .strict();

// ---- pools and networks ---------------------------------------------------------------

export const pool = z
  .object({
    /** Device-plugin resource name: letters, digits and '_' only (no '-'). */
    name: z.string().min(1),
    prefix: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { message: "must be a DNS subdomain like intel.com" }).default("intel.com"),
    deviceType: z.enum(["netDevice", "accelerator", "auxNetDevice"]).default("netDevice"),
    /** Extra selectors, e.g. vendors ["8086"], devices ["154c"]. */
    vendors: z.array(z.string().regex(/^[0-9a-f]{4}$/, { message: "must be a 4-digit lowercase hex vendor id like 8086" })).optional(),
    devices: z.array(z.string().regex(/^[0-9a-f]{4}$/, { message: "must be a 4-digit lowercase hex device id like 154c" })).optional(),
    excludeTopology: z.boolean().default(false),
  })
  .strict();

export const ipam = z.discriminatedUnion("type", [
  z.object({ type: z.literal("none") }).strict(),
  z.object({ type: z.literal("static") }).strict(),
  z.object({
    type: z.literal("host-local"),
    subnet: cidr,
    rangeStart: ipv4.optional(),
    rangeEnd: ipv4.optional(),
    gateway: ipv4.optional(),
  }).strict(),
  z.object({ type: z.literal("whereabouts"), range: cidr }).strict(),
]);

export const network = z
  .object({
    name: dnsLabel,
    namespace: dnsLabel.default("default"),
    pool: z.string().min(1),
    /** Always written into the CNI config; 0 clears a stale VLAN on the VF. */
    vlan: z.number().int().default(0),
    vlanQoS: z.number().int().optional(),
    vlanProto: z.enum(["802.1q", "802.1ad"]).optional(),
    spoofchk: z.enum(["on", "off"]).optional(),
    trust: z.enum(["on", "off"]).optional(),
    linkState: z.enum(["auto", "enable", "disable"]).optional(),
    minTxRate: z.number().int().min(0).optional(),
    maxTxRate: z.number().int().min(0).optional(),
    mtu: z.number().int().optional(),
    ipam: ipam.default({ type: "none" }),
    /** Guest subnet on this network (VM addresses are checked against it). */
    subnet: cidr.optional(),
  })
  .strict();

// ---- VoIP VMs -------------------------------------------------------------------------

export const vmInterface = z
  .object({
    /** Network name (of this stack), optionally "namespace/name". */
    network: z.string().min(1),
    mac: macAddress.optional(),
    /** Static guest address with prefix, set through cloud-init networkData. */
    address: cidr,
    gateway: ipv4.optional(),
  })
  .strict();

export const vmTuning = z
  .object({
    dedicatedCpus: z.boolean().default(true),
    isolateEmulatorThread: z.boolean().default(true),
    hugepages: z.enum(["1Gi", "2Mi", "none"]).default("1Gi"),
    numaPassthrough: z.boolean().default(false),
    cpuModel: z.enum(["host-passthrough", "host-model"]).default("host-passthrough"),
    memBalloon: z.boolean().default(false),
    graphics: z.boolean().default(false),
    ioThreads: z.enum(["shared", "auto", "none"]).default("auto"),
  })
  .strict();

const vmTuningDefaults = vmTuning.parse({});

export const pbxRole = z
  .object({
    extension: z.string().regex(/^[0-9A-Za-z_+*#-]{1,32}$/, { message: "must be a dialplan extension like 100" }).default("100"),
    sipPort: z.number().int().min(1).max(65535).default(5060),
    /** Answer with Echo() (default) or play a prompt then echo. */
    answer: z.enum(["echo", "prompt-echo"]).default("echo"),
    /** Subnet the load generator calls from (defaults to the SR-IOV subnet of its interface). */
    allowFrom: cidr.optional(),
  })
  .strict();

export const loadgenRole = z
  .object({
    /** Name of the PBX VM in this stack. */
    target: dnsLabel,
    extension: z.string().regex(/^[0-9A-Za-z_+*#-]{1,32}$/).default("100"),
    /** Calls per second. */
    rate: z.number().positive().max(10000).default(10),
    /** Maximum concurrent calls. */
    concurrency: z.number().int().min(1).max(100000).default(50),
    /** Total calls per run. */
    calls: z.number().int().min(1).default(1000),
    /** Call hold time in milliseconds. */
    holdMs: z.number().int().min(0).default(5000),
    /** Start a load test at boot (otherwise run the command from the stack outputs). */
    runAtBoot: z.boolean().default(false),
  })
  .strict();

export const customRole = z
  .object({
    /** User-supplied cloud-init user-data, passed through untouched. */
    userData: z.string().min(1),
  })
  .strict();

export const vm = z
  .object({
    name: dnsLabel,
    namespace: dnsLabel.default("default"),
    role: z.enum(["pbx", "loadgen", "custom"]),
    kind: z.enum(["VirtualMachine", "VirtualMachineInstance"]).default("VirtualMachine"),
    image: z.string().min(1).optional(),
    cpus: z.number().int().min(1).max(256).default(2),
    memory: memoryQuantity.default("2Gi"),
    tuning: vmTuning.default(vmTuningDefaults),
    nodeSelector: labels.default({}),
    interfaces: z.array(vmInterface).min(1),
    guestUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/).default("voip"),
    sshAuthorizedKeys: z.array(z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/, {
      message: "must be an OpenSSH public key line",
    })).default([]),
    pbx: pbxRole.optional(),
    loadgen: loadgenRole.optional(),
    custom: customRole.optional(),
  })
  .strict();

// ---- cluster add-ons ------------------------------------------------------------------

/** The network-resources-injector: an admission webhook that adds the VF requests to pods. */
export const injectorSettings = z
  .object({
    replicas: z.number().int().min(1).max(10).default(2),
    /**
     * Which pods the webhook sees: only KubeVirt's virt-launcher pods (default: an injector
     * outage then stops VM starts only), or every pod outside the system namespaces.
     */
    scope: z.enum(["virt-launcher", "all-pods"]).default("virt-launcher"),
    /** Fail: a pod is refused while the webhook is down (a VM would otherwise start without its VF). */
    failurePolicy: z.enum(["Fail", "Ignore"]).default("Fail"),
    /**
     * Require the API server's client certificate (the injector's own default). Needs an
     * AdmissionConfiguration on every kube-apiserver that presents one to this webhook.
     */
    requireClientCert: z.boolean().default(false),
    /** The webhook's serving certificate, issued by the program and renewed by `pulumi up`. */
    certificate: z
      .object({
        /** Lifetime of the serving certificate. */
        validityDays: z.number().int().min(2).max(3650).default(365),
        /** `pulumi up` issues a new one once per this many days (must be below validityDays). */
        renewEveryDays: z.number().int().min(1).max(3649).default(180),
        /** Lifetime of the program's own CA that signs it (kept across renewals). */
        caValidityDays: z.number().int().min(3).max(36500).default(3650),
      })
      .strict()
      .default({ validityDays: 365, renewEveryDays: 180, caValidityDays: 3650 }),
  }, { error: "must be true, false or a map of injector settings — write `networkResourcesInjector: true`, or a map like `{replicas: 2, scope: virt-launcher}` (see stacks/Pulumi.example.yaml)" })
  .strict();

export const kubevirtConfig = z
  .object({
    version: releaseVersion.default(DEFAULT_VERSIONS.kubevirt),
    namespace: dnsLabel.default("kubevirt"),
    useEmulation: z.boolean().default(false),
    featureGates: z.array(z.string().regex(/^[A-Za-z0-9]+$/)).default([]),
    disabledFeatureGates: z.array(z.string().regex(/^[A-Za-z0-9]+$/)).default([]),
    /**
     * Deploy the network-resources-injector instead of disabling ExternalNetResourceInjection:
     * false (default), true (the defaults below) or the settings. Normalized to undefined or the
     * full settings, so `if (kv.networkResourcesInjector)` reads "is it deployed".
     */
    networkResourcesInjector: z.preprocess(
      (v) => (v === true ? {} : v === false || v === null ? undefined : v),
      injectorSettings.optional(),
    ),
    operatorManifest: z
      .object({
        /** Local copy of kubevirt-operator.yaml (air-gapped clusters) ... */
        file: z.string().min(1).optional(),
        /** ... or a URL (mirror); default: the release asset. */
        url: z.string().url().optional(),
        /** SHA-256 of the manifest; required unless the program knows the release's hash. */
        sha256: z.string().regex(/^[0-9a-f]{64}$/, { message: "must be 64 lowercase hex digits (sha256sum output)" }).optional(),
      })
      .strict()
      .default({}),
    infra: placement.default({ nodeSelector: {}, tolerations: [] }),
    workloads: placement.default({ nodeSelector: {}, tolerations: [] }),
  })
  .strict();

export const platform = z
  .object({
    /** Environment tag: policies are stricter for production. */
    environment: z.enum(["lab", "dev", "staging", "production"]).default("dev"),
    /** Wait for DaemonSets/operators to become ready; false for clusters without running pods. */
    waitForReadiness: z.boolean().default(true),
    /** Deploy even when the planner finds VF/CPU/hugepage demand above supply. */
    allowOvercommit: z.boolean().default(false),
    /** Registry prefix replacing each image's registry, for air-gapped clusters. */
    registryMirror: z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/, {
      message: "must be a registry host with optional path, like registry.local:5000/mirror",
    }).optional(),
    versions: z
      .object({
        multus: releaseVersion.default(DEFAULT_VERSIONS.multus),
        sriovDevicePlugin: releaseVersion.default(DEFAULT_VERSIONS.sriovDevicePlugin),
        sriovCni: releaseVersion.default(DEFAULT_VERSIONS.sriovCni),
        networkResourcesInjector: releaseVersion.default(DEFAULT_VERSIONS.networkResourcesInjector),
      })
      .strict()
      .default({
        multus: DEFAULT_VERSIONS.multus,
        sriovDevicePlugin: DEFAULT_VERSIONS.sriovDevicePlugin,
        sriovCni: DEFAULT_VERSIONS.sriovCni,
        networkResourcesInjector: DEFAULT_VERSIONS.networkResourcesInjector,
      }),
    /** Full image overrides (must carry a tag or digest). */
    images: z
      .object({
        multus: z.string().optional(),
        sriovDevicePlugin: z.string().optional(),
        sriovCni: z.string().optional(),
        networkResourcesInjector: z.string().optional(),
      })
      .strict()
      .default({}),
    /** Namespace of the node agents (Multus, device plugin, CNI). */
    agentNamespace: dnsLabel.default("kube-system"),
    /** SSH defaults for every node (a node's own ssh settings win). */
    ssh: z
      .object({
        privateKeySecret: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/).default("sshPrivateKey"),
        passwordSecret: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/).optional(),
        dialErrorLimit: z.number().int().min(1).max(1000).default(10),
        perDialTimeout: z.number().int().min(1).max(3600).default(15),
      })
      .strict()
      .default({ privateKeySecret: "sshPrivateKey", dialErrorLimit: 10, perDialTimeout: 15 }),
    kubevirt: kubevirtConfig.default(kubevirtConfig.parse({})),
    nodes: z.array(node).min(1),
    pools: z.array(pool).min(1),
    networks: z.array(network).default([]),
    vms: z.array(vm).default([]),
  })
  .strict();

export type PlatformConfig = z.infer<typeof platform>;
export type PlatformInput = z.input<typeof platform>;
export type NodeConfig = z.infer<typeof node>;
export type PhysicalFunctionConfig = z.infer<typeof physicalFunction>;
export type PoolConfig = z.infer<typeof pool>;
export type NetworkConfig = z.infer<typeof network>;
export type VmConfig = z.infer<typeof vm>;
export type VmTuning = z.infer<typeof vmTuning>;
export type VmInterfaceConfig = z.infer<typeof vmInterface>;
export type KubevirtConfig = z.infer<typeof kubevirtConfig>;
export type InjectorSettings = z.infer<typeof injectorSettings>;
export type SshEndpoint = z.infer<typeof sshEndpoint>;
export type VfDriver = z.infer<typeof vfDriver>;

/** The stack config key that holds the whole structured config. */
export const CONFIG_KEY = "platform";
export const CONFIG_NAMESPACE = "kubevirt-sriov";
