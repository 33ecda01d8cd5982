// The ONE schema of the stack configuration (key `kubevirt-sriov:platform`).
// Every TypeScript type of the config is inferred from here; defaults live here too.
import { z } from "zod";
import { DEFAULT_VERSIONS } from "./versions";
import { DEFAULT_AGENT_NAMESPACE } from "./labels";

// ---- where the configuration lives: the one copy of its name -----------------------------

/** The project's config namespace (`name` in Pulumi.yaml); a bare secret key name is read from it. */
export const CONFIG_NAMESPACE = "kubevirt-sriov";
/** The stack config key that holds the whole structured config. */
export const CONFIG_KEY = "platform";
/** `kubevirt-sriov:platform`: the key as the stack file spells it, and the root of every config path in messages. */
export const CONFIG_ROOT = `${CONFIG_NAMESPACE}:${CONFIG_KEY}`;

// ---- limits: where the kernel, Kubernetes and the renderers stop accepting ---------------

/**
 * The bounds the schema enforces, each set where a consumer of the value stops accepting it.
 * test/unit/config-properties.test.ts generates stacks up to these and renders them.
 */
export const LIMITS = {
  /** The device plugin's per-node file `<node>.json` is a ConfigMap key: at most 253 characters. */
  nodeName: 248,
  /** A pool is the name part of a Kubernetes extended resource `<prefix>/<name>`: at most 63. */
  poolName: 63,
  /** Kubernetes checks `requests.<prefix>/<name>` as a qualified name: the prefix has 253 − 9. */
  poolPrefix: 244,
  /** VF rates in Mb/s: the kernel takes a u32; node preparation writes at most 1 Tb/s. */
  txRateMbps: 1_000_000,
  /** PCIe SR-IOV VFs per PF the program creates. */
  numVfs: 256,
  /** A node's state travels inline in one exec argument (128 KiB with the node script). */
  physicalFunctionsPerNode: 64,
  vfGroupsPerNode: 384,
  /** Nodes one node entry may stand for (`each`, `hosts`): a typo must not make a million. */
  nodesPerEntry: 10_000,
  /** A NIC port is a PCI function: 0–7 without ARI, which multi-port NICs do not need. */
  nicPort: 7,
  /** Boot-time hugepages and capacity: 64 TiB of memory per node; 8192 CPUs (x86 NR_CPUS). */
  hugepages1Gi: 65_536,
  hugepages2Mi: 33_554_432,
  cpus: 8192,
  /** One VM's memory, in Gi (16 TiB). */
  memoryGi: 16_384,
  /** The load generator's SIPp run: calls per second, calls at once, calls, hold time (ms). */
  loadgen: { rateMin: 0.01, rateMax: 10_000, concurrency: 100_000, calls: 10_000_000, holdMs: 3_600_000 },
} as const;

// ---- problems with their fix, as data ---------------------------------------------------
// Every message the schema writes says what is wrong (the issue's message) and how to fix it.
// A refinement's issue is custom and carries its fix in `params`. zod keeps nothing but the
// message on the issues of its built-in checks (a pattern, a bound, a type), so their fixes are
// kept here, by that message; said() refuses one message with two different fixes.

/** Reports a problem found by a refinement, with its fix. */
function refuse(ctx: z.RefinementCtx, problem: string, fix: string, path: PropertyKey[] = []): void {
  ctx.addIssue({ code: "custom", message: problem, params: { fix }, input: ctx.value, path });
}

const BUILT_IN_FIXES = new Map<string, string>();

/** The message of a built-in check or type, with the fix the user reads after it. */
export function said(problem: string, fix: string): { error: string } {
  const other = BUILT_IN_FIXES.get(problem);
  if (other !== undefined && other !== fix)
    throw new Error(`schema message "${problem}" has two fixes: "${other}", "${fix}"`);
  BUILT_IN_FIXES.set(problem, fix);
  return { error: problem };
}

/** The fix the schema wrote for an issue, or undefined where it left the wording to validate.ts. */
export function schemaFix(issue: z.core.$ZodIssue): string | undefined {
  if (issue.code === "custom") {
    const fix = (issue.params as { fix?: unknown } | undefined)?.fix;
    return typeof fix === "string" ? fix : undefined;
  }
  return BUILT_IN_FIXES.get(issue.message);
}

const quote = (v: string) => JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);

// ---- reusable shapes -------------------------------------------------------------------

/** RFC 1123 subdomain as Kubernetes checks it: dot-separated labels, 253 characters in all. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes object name (RFC 1123 label). */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message: "must be a lowercase RFC 1123 label (a-z, 0-9, '-', starting and ending alphanumeric)",
  });

/** A Kubernetes node name (RFC 1123 subdomain), short enough for the device plugin's `<node>.json`. */
export const nodeName = z
  .string()
  .min(1)
  .max(
    LIMITS.nodeName,
    said(
      `is longer than ${LIMITS.nodeName} characters`,
      `shorten it: the device plugin's per-node file "<node>.json" is a ConfigMap key, at most 253 characters`,
    ),
  )
  .regex(DNS_SUBDOMAIN, {
    message:
      "must be a lowercase RFC 1123 subdomain: labels of a-z, 0-9 and '-' joined by '.', each starting and ending with a letter or digit",
  });

/** Full PCI address: domain:bus:device.function, e.g. 0000:02:00.0. */
export const pciAddress = z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/, {
  message: "must be a full lowercase PCI address like 0000:02:00.0",
});

/**
 * A Linux interface name (IFNAMSIZ 16 incl. NUL, no '/', whitespace or ':'), starting with a
 * letter or digit: node preparation passes it to `ip` as a word, never as an option.
 */
export const ifName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, {
  message:
    "must be a Linux interface name of at most 15 characters (letters, digits, '_', '-', '.'), starting with a letter or digit",
});

/** Release version tag like v1.9.0. */
export const releaseVersion = z.string().regex(/^v\d+\.\d+\.\d+(-(rc|beta|alpha)\.\d+)?$/, {
  message: "must be a release tag like v1.9.0",
});

/** A VF range list in the device plugin's syntax without the PF part: "0-3", "0-3,6". */
export const vfRange = z.string().regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, {
  message: 'must be VF indexes like "0-3" or "0-3,6"',
});

export const macAddress = z
  .string()
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, { message: "must be a lowercase MAC like 02:00:00:aa:bb:cc" });

/** An IPv4 address with prefix length: octets 0–255 without leading zeros, prefix 0–32. */
export const cidr = z.cidrv4(
  said(
    "is not a valid IPv4 address with prefix length (four numbers 0–255 and a prefix 0–32)",
    "write it like 192.168.10.0/24",
  ),
);

/** An IPv4 address: octets 0–255 without leading zeros. */
export const ipv4 = z.ipv4(
  said("is not a valid IPv4 address (four numbers 0–255, no leading zeros)", "write it like 192.168.10.1"),
);

/** Kubernetes quantity limited to what the program does arithmetic on: Mi or Gi, more than 0. */
export const memoryQuantity = z.string().superRefine((q, ctx) => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (m === null)
    return refuse(
      ctx,
      `${quote(q)} must be a quantity in Mi or Gi, like 4Gi`,
      "write a whole number followed by Mi or Gi",
    );
  const n = Number(m[1]);
  if (n === 0) return refuse(ctx, `memory ${q} is not more than 0`, "give the VM its memory, e.g. 2Gi");
  if (m[1].startsWith("0")) return refuse(ctx, `${quote(q)} has a leading zero`, `write ${n}${m[2]}`);
  if (n > (m[2] === "Gi" ? LIMITS.memoryGi : LIMITS.memoryGi * 1024)) {
    return refuse(
      ctx,
      `memory ${q} is above ${LIMITS.memoryGi}Gi (16 TiB), the most this program gives one VM`,
      `use at most ${LIMITS.memoryGi}Gi`,
    );
  }
});

/** A hostname as SSH dials it: DNS labels of letters, digits and '-' (case-insensitive). */
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const anyIpv4 = z.ipv4();
const anyIpv6 = z.ipv6();
const isIp = (h: string) => anyIpv4.safeParse(h).success || anyIpv6.safeParse(h).success;
const isHost = (h: string) => isIp(h) || (h.length <= 253 && HOSTNAME.test(h) && !/^[\d.]+$/.test(h));

/**
 * The host SSH dials: a host name or an IP address, nothing else. It ends up in commands
 * (ssh-keyscan hints, the SSH connection), so no port, user, space or shell character.
 */
export const sshHost = z.string().superRefine((host, ctx) => {
  if (isHost(host)) return;
  const port = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(host);
  if (port !== null && isHost(port[1])) {
    return refuse(
      ctx,
      `${quote(host)} includes a port`,
      `write the host alone and the port in its own key: host: ${port[1]}, port: ${port[2]} (ssh.port, or bastion.port for a jump host)`,
    );
  }
  const user = /^([^@\s]+)@([^@\s]+)$/.exec(host);
  if (user !== null && isHost(user[2])) {
    return refuse(ctx, `${quote(host)} includes a user`, `write host: ${user[2]} and user: ${user[1]}`);
  }
  if (/^[\d.]+$/.test(host))
    return refuse(ctx, `${quote(host)} is not a valid IPv4 address`, "use four numbers 0–255, like 192.0.2.11");
  refuse(
    ctx,
    `${quote(host)} is not a host name or an IP address`,
    "write a DNS name (letters, digits, '-' and '.') or an IPv4/IPv6 address, without port, user, spaces or shell characters",
  );
});

// Image references (distribution/reference): [registry[:port]/]path[:tag][@sha256:digest].
const REGISTRY = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:\d{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Splits a reference into its parts, or says which part is malformed. */
function parseImage(ref: string): { tag?: string; digest?: string } | string {
  let rest = ref;
  const out: { tag?: string; digest?: string } = {};
  const at = rest.indexOf("@");
  if (at >= 0) {
    out.digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(out.digest)) return "its digest is not sha256: and 64 lowercase hex digits";
  }
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    out.tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(out.tag)) return "its tag has characters other than letters, digits, '_', '.' and '-' (at most 128)";
  }
  const parts = rest.split("/");
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost" || /[A-Z]/.test(parts[0]))) {
    const registry = parts.shift() as string;
    if (!REGISTRY.test(registry)) return `its registry "${registry}" is not a host name with an optional port`;
  }
  if (rest.length > 255 || !parts.every((p) => PATH_COMPONENT.test(p)))
    return "its path is not lowercase letters and digits separated by '/', '.', '_' or '-'";
  return out;
}

/** An image reference pinned by a tag other than `latest`, or by a digest. */
export const imageReference = z.string().superRefine((ref, ctx) => {
  const parsed = parseImage(ref);
  if (typeof parsed === "string") {
    return refuse(
      ctx,
      `${quote(ref)} is not an image reference: ${parsed}`,
      "write registry/path:tag or registry/path@sha256:<64 hex digits>",
    );
  }
  if (parsed.tag === undefined && parsed.digest === undefined) {
    return refuse(
      ctx,
      `image ${quote(ref)} has no tag or digest`,
      "pin it, e.g. registry/name:v1.2.3 or name@sha256:<digest>",
    );
  }
  if (parsed.tag === "latest" && parsed.digest === undefined) {
    return refuse(ctx, `image ${quote(ref)} uses the moving tag "latest"`, "pin a release tag or a digest");
  }
});

/** A registry host with an optional port and path, that images are moved under. */
export const registryPrefix = z.string().superRefine((mirror, ctx) => {
  const [registry, ...path] = mirror.split("/");
  if (!REGISTRY.test(registry) || !path.every((p) => PATH_COMPONENT.test(p))) {
    refuse(
      ctx,
      `${quote(mirror)} must be a registry host with optional path, like registry.local:5000/mirror`,
      "write host[:port][/path] without a scheme (path in lowercase)",
    );
  }
});

// Kubernetes label keys and values (k8s.io/apimachinery IsQualifiedName, IsValidLabelValue).
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_KEY_FORM =
  "an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.' starting and ending with a letter or digit, like rack or topology.example.com/rack";

/** What is wrong with a label key (also a toleration key), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  if (key === "") return "is empty";
  const slash = key.indexOf("/");
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (name.includes("/")) return "has more than one '/'";
    if (prefix.length > 253) return `has a prefix of ${prefix.length} characters (at most 253)`;
    if (!DNS_SUBDOMAIN.test(prefix)) return `has a prefix ${quote(prefix)} that is not a lowercase DNS subdomain`;
  }
  if (name.length > 63) return `has a name of ${name.length} characters (at most 63)`;
  if (!LABEL_NAME.test(name)) return `has a name ${quote(name)} with characters Kubernetes refuses`;
  return undefined;
}

/** What is wrong with a label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63) return `has ${value.length} characters (at most 63)`;
  if (!LABEL_NAME.test(value)) return "has characters Kubernetes refuses";
  return undefined;
}

/** Label keys the platform sets on nodes itself, with who sets them. */
function ownedNodeLabel(key: string): string | undefined {
  const prefix = key.includes("/") ? key.slice(0, key.indexOf("/")) : "";
  if (prefix === "kubevirt.io" || prefix.endsWith(".kubevirt.io"))
    return "KubeVirt sets the kubevirt.io labels of a node itself";
  if (prefix === "kubevirt-sriov")
    return "this program sets the kubevirt-sriov/ labels itself (kubevirt-sriov/sriov-node on every node it prepares)";
  if (key === "kubernetes.io/hostname") return "the kubelet sets it to the node's hostname";
  return undefined;
}

/** A map of Kubernetes labels (or a node selector); `owned` also refuses the platform's own keys. */
function labelMap(owned: boolean) {
  return z
    .record(z.string(), z.string(said("must be a string", 'quote it in YAML, e.g. "12" or "true"')))
    .superRefine((map, ctx) => {
      for (const [key, value] of Object.entries(map)) {
        const keyProblem = labelKeyProblem(key);
        if (keyProblem !== undefined) {
          refuse(ctx, `label key ${quote(key)} ${keyProblem}`, `write ${LABEL_KEY_FORM}`, [key]);
          continue;
        }
        const valueProblem = labelValueProblem(value);
        if (valueProblem !== undefined) {
          refuse(
            ctx,
            `label value ${quote(value)} ${valueProblem}`,
            `use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (or "")`,
            [key],
          );
        }
        const owner = owned ? ownedNodeLabel(key) : undefined;
        if (owner !== undefined)
          refuse(ctx, `label ${quote(key)} belongs to the platform: ${owner}`, "remove it from the node's labels", [
            key,
          ]);
      }
    });
}

/** Labels and node selectors: any valid key. */
const labels = labelMap(false);
/** A node's own labels: valid keys other than those KubeVirt, the kubelet or this program set. */
const nodeLabels = labelMap(true);

export const toleration = z
  .object({
    key: z.string().optional(),
    operator: z.enum(["Exists", "Equal"]).optional(),
    value: z.string().optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const keyProblem = t.key === undefined || t.key === "" ? undefined : labelKeyProblem(t.key);
    if (keyProblem !== undefined)
      refuse(ctx, `toleration key ${quote(t.key as string)} ${keyProblem}`, `write ${LABEL_KEY_FORM}`, ["key"]);
    const valueProblem = t.value === undefined ? undefined : labelValueProblem(t.value);
    if (valueProblem !== undefined)
      refuse(
        ctx,
        `toleration value ${quote(t.value as string)} ${valueProblem}`,
        "use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        ["value"],
      );
    if (t.operator === "Exists" && t.value !== undefined && t.value !== "") {
      refuse(
        ctx,
        `operator Exists matches every value, so value ${quote(t.value)} is not allowed`,
        "remove value, or use operator: Equal",
        ["value"],
      );
    }
    if ((t.key === undefined || t.key === "") && t.operator !== "Exists") {
      refuse(
        ctx,
        "a toleration without a key must use operator: Exists (it then tolerates every taint)",
        "set key, or operator: Exists",
        ["operator"],
      );
    }
  });

export const placement = z
  .object({
    nodeSelector: labels.default({}),
    tolerations: z.array(toleration).default([]),
  })
  .strict();

// ---- nodes ----------------------------------------------------------------------------

export const vfDriver = z.enum(["vfio-pci", "netdevice"]);

const POSIX_USER = {
  message: "must be a POSIX user name: at most 32 lowercase letters, digits, '_' or '-', starting with a letter or '_'",
};
/**
 * The name of a secret config key as Pulumi spells it, `namespace:key` (`ops:bmcPassword`); a
 * bare key (`sshPrivateKey`) is in the project's namespace. The value itself is set with
 * `pulumi config set --secret <namespace>:<key>`.
 */
const secretKeyName = z.string().regex(/^([A-Za-z][A-Za-z0-9_.-]*:)?[A-Za-z][A-Za-z0-9_.-]*$/, {
  message:
    "must be the name of a config key, like sshPrivateKey or ops:bmcPassword: letters, digits, '_', '.' and '-', " +
    "starting with a letter, optionally after a namespace and ':'",
});
/** A VF rate in Mb/s, as `ip link set ... vf N max_tx_rate` and the SR-IOV CNI take it. */
const txRate = z
  .number()
  .int()
  .min(0)
  .max(
    LIMITS.txRateMbps,
    said(
      `is above ${LIMITS.txRateMbps} Mb/s (1 Tb/s), the most node preparation and the SR-IOV CNI set`,
      `use a rate in Mb/s up to ${LIMITS.txRateMbps}, or 0 for no limit`,
    ),
  );
const bounded = (max: number, what: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(max, said(`is above ${max}, the most ${what}`, `use at most ${max}`));

export const sshEndpoint = z
  .object({
    /** Host name or IP address (no port: that is `port`). */
    host: sshHost,
    port: z.number().int().min(1).max(65535).default(22),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, POSIX_USER)
      .default("root"),
    /** Pinned host key, as in known_hosts: "ssh-ed25519 AAAA...". Absent = not verified. */
    hostKey: z
      .string()
      .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+$/, {
        message: 'must be a public host key like "ssh-ed25519 AAAA..." (from ssh-keyscan)',
      })
      .optional(),
    /** Secret config key (`namespace:key`, or a key of this project) holding the private key. */
    privateKeySecret: secretKeyName.optional(),
    /** Secret config key (`namespace:key`, or a key of this project) holding a password, when keys are not used. */
    passwordSecret: secretKeyName.optional(),
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
    minTxRate: txRate.optional(),
    maxTxRate: txRate.optional(),
  })
  .strict();

/** A PCI vendor or device ID as sysfs shows it without "0x": four lowercase hex digits. */
function pciId(what: string, example: string) {
  return z
    .string(
      said(
        `must be a quoted ${what} ID like "${example}"`,
        `quote it in YAML (${example} unquoted is a number, and "0x${example}" is not accepted either)`,
      ),
    )
    .regex(/^[0-9a-f]{4}$/, {
      message: `must be a 4-digit lowercase hex ${what} ID like "${example}" (as lspci -n shows it, without 0x)`,
    });
}

/**
 * A PF name pattern as the shell matches it: letters, digits, '_', '.', '-' and the wildcards
 * '*', '?' and '[...]'. Node preparation matches it against the node's interface names.
 */
export const ifNamePattern = z.string().regex(/^[A-Za-z0-9*?[][A-Za-z0-9_.*?[\]-]{0,31}$/, {
  message:
    "must be an interface name pattern like ens*f0 or enp*s0f[01]: at most 32 letters, digits, '_', '.', '-' and the wildcards '*', '?' and '[...]'",
});

/**
 * Chooses a node's PF by what it is rather than by where it sits, the way the SR-IOV network
 * operator's NIC selector does: node preparation resolves it on each node, at apply time, from
 * the SR-IOV capable network PFs the node has, and refuses (changing nothing) when it matches
 * another number of PFs than `count`. Every given criterion must hold.
 */
export const nicSelector = z
  .object({
    /** PCI vendor ID of the PF, e.g. "8086" (Intel), "15b3" (NVIDIA/Mellanox). */
    vendor: pciId("vendor", "8086").optional(),
    /** PCI device ID of the PF (not of its VFs), e.g. "1593" (E810-C 4x25G), "1572" (X710). */
    device: pciId("device", "1593").optional(),
    /** Interface name pattern of the PF, e.g. "ens*f0". */
    pfName: ifNamePattern.optional(),
    /** The n-th port of its NIC (0 = the first): PFs of one PCI device, by function number. */
    port: z
      .number()
      .int()
      .min(0)
      .max(
        LIMITS.nicPort,
        said(
          `is above ${LIMITS.nicPort}: a NIC's ports are PCI functions 0–${LIMITS.nicPort}`,
          "use the port's position on its NIC, 0 for the first",
        ),
      )
      .optional(),
    /** How many PFs it must match on every node (default 1); each gets this entry's VFs. */
    count: z.number().int().min(1).max(LIMITS.physicalFunctionsPerNode).default(1),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.vendor === undefined && s.device === undefined && s.pfName === undefined) {
      refuse(
        ctx,
        "a selector needs at least one of vendor, device or pfName (port and count only narrow it down)",
        "add the PF's vendor and device IDs (lspci -nn), or a pfName pattern",
      );
    }
  });

export const physicalFunction = z
  .object({
    /** Interface name on the node (e.g. ens1f0) ... */
    name: ifName.optional(),
    /** ... or PCI address (e.g. 0000:02:00.0) ... */
    pciAddress: pciAddress.optional(),
    /** ... or a NIC selector resolved on each node: exactly one of the three. */
    selector: nicSelector.optional(),
    numVfs: z.number().int().min(0).max(LIMITS.numVfs),
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
    dedicatedCpus: bounded(LIMITS.cpus, "CPUs a node has (x86 NR_CPUS)").default(0),
    hugepages1Gi: bounded(LIMITS.hugepages1Gi, "1Gi pages a node has (64 TiB)").default(0),
    hugepages2Mi: bounded(LIMITS.hugepages2Mi, "2Mi pages a node has (64 TiB)").default(0),
  })
  .strict();

export const nodeIdentity = z
  .object({
    /** The host's hostname when it is not the node name (kubelet --hostname-override). */
    hostname: nodeName.optional(),
    /** The host's /etc/machine-id; then the hostname is checked only when also given. */
    machineId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, { message: "must be the 32 lowercase hex digits of /etc/machine-id" })
      .optional(),
  })
  .strict();

/** The PFs of one node (or of every node of a profile). */
const physicalFunctions = z
  .array(physicalFunction)
  .min(1)
  .max(
    LIMITS.physicalFunctionsPerNode,
    said(
      `lists more than ${LIMITS.physicalFunctionsPerNode} physical functions, the most node preparation sends in one command`,
      "split the node's PFs over fewer entries (list only the PFs that get VFs)",
    ),
  );
/** CPU vendor: decides the IOMMU kernel arguments reported as required. */
const iommuVendor = z.enum(["intel", "amd"]);
/** Boot-time hugepages the node should have (reported as kernel changes). */
const bootHugepages = z
  .object({
    "1Gi": bounded(LIMITS.hugepages1Gi, "1Gi pages a node boots with (64 TiB)").default(0),
    "2Mi": bounded(LIMITS.hugepages2Mi, "2Mi pages a node boots with (64 TiB)").default(0),
  })
  .strict();

/** One Kubernetes node, every setting given (what a node entry or a profile expands to). */
export const node = z
  .object({
    /** Kubernetes node name. */
    name: nodeName,
    ssh: sshEndpoint,
    /** SSH jump host (bastion). */
    bastion: sshEndpoint.optional(),
    physicalFunctions,
    /** Allow changing the VF count of PFs whose VFs are in use (disrupts running VMs/pods). */
    allowDisruption: z.boolean().default(false),
    iommu: iommuVendor.default("intel"),
    bootHugepages: bootHugepages.default({ "1Gi": 0, "2Mi": 0 }),
    /** Write required kernel arguments to the bootloader config (never reboots). */
    writeBootloader: z.boolean().default(false),
    capacity: nodeCapacity.default({ dedicatedCpus: 0, hugepages1Gi: 0, hugepages2Mi: 0 }),
    labels: nodeLabels.default({}),
    /**
     * What node preparation checks the SSH host is before it writes anything. Default: the
     * host's hostname is `name` (short or fully qualified).
     */
    identity: nodeIdentity.optional(),
    /**
     * The node is gone for good (unreachable, reinstalled): the next `pulumi up` stores a revert
     * that does nothing, without connecting; removing the entry or `pulumi destroy` then never
     * dials it. The host keeps its VFs and boot unit.
     */
    decommissioned: z.boolean().optional(),
  })
  .strict();

// ---- profiles and node groups ---------------------------------------------------------

/** A profile's name: how node entries refer to it (`profile: r740`). */
export const profileName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
  message:
    "must be a profile name like r740 or gen2-e810: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
});

/**
 * What the nodes of one hardware layout share, given once: a node entry names the profile and
 * gives only what differs (its name and SSH host, optionally a host key and overrides). No
 * defaults here: a key the profile leaves out falls back to the node entry, then to the
 * defaults of `node`. Per-host keys (name, ssh.host, ssh.hostKey, identity, decommissioned)
 * belong to node entries (config/profiles.ts says so when a profile has one).
 */
export const nodeProfile = z
  .object({
    /** SSH defaults of its nodes: user, port, secret names (host and hostKey are per node). */
    ssh: sshEndpoint.omit({ host: true, hostKey: true }).partial().optional(),
    bastion: sshEndpoint.optional(),
    physicalFunctions: physicalFunctions.optional(),
    allowDisruption: z.boolean().optional(),
    iommu: iommuVendor.optional(),
    bootHugepages: bootHugepages.partial().optional(),
    writeBootloader: z.boolean().optional(),
    capacity: nodeCapacity.partial().optional(),
    labels: nodeLabels.optional(),
  })
  .strict();

/** Node indexes of a group: "1-480", or "1-240,301-540". */
export const nodeIndexes = z.string().regex(/^\d{1,6}(-\d{1,6})?(,\d{1,6}(-\d{1,6})?)*$/, {
  message: 'must be node numbers like "1-480" or "1-240,301-540" (each up to 6 digits)',
});

/**
 * The keys that make a node entry stand for a profile's node, or for many nodes at once;
 * config/profiles.ts expands such an entry into `node`s before the schema reads them:
 * - `profile`: the profile whose settings the entry's nodes take (the entry's own keys win;
 *   ssh, labels, capacity and bootHugepages merge key by key, everything else is replaced);
 * - `each` with patterns in `name` and `ssh.host`: one node per number, `{i}` replaced by
 *   the number (`{i:3}` zero-pads it to 3 digits, `{i+100}` and `{i-240}` shift it);
 * - `hosts`: a map of node name to SSH host, one node each;
 * - `hostKeys`: pinned SSH host keys of a group's nodes, by node name.
 */
export const nodeGroup = z.object({
  profile: profileName.optional(),
  each: nodeIndexes.optional(),
  hosts: z
    .record(
      z.string(),
      z.string(
        said(
          "must be the node's SSH host (a host name or an IP address)",
          "write it as a string, like r740-001: 10.1.0.1",
        ),
      ),
    )
    .optional(),
  hostKeys: z.record(z.string(), sshEndpoint.shape.hostKey.unwrap()).optional(),
});

// ---- pools and networks ---------------------------------------------------------------

export const pool = z
  .object({
    /** Device-plugin resource name: letters, digits and '_' only (no '-'). */
    name: z.string().min(1),
    /** Resource prefix: `<prefix>/<name>` is a Kubernetes extended resource. */
    prefix: z
      .string()
      .superRefine((prefix, ctx) => {
        if (!DNS_SUBDOMAIN.test(prefix)) {
          refuse(
            ctx,
            `${quote(prefix)} must be a DNS subdomain like intel.com`,
            "use lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit",
          );
        } else if (prefix.length > LIMITS.poolPrefix) {
          refuse(
            ctx,
            `${quote(prefix)} has ${prefix.length} characters`,
            `shorten it to at most ${LIMITS.poolPrefix}: Kubernetes checks "requests.<prefix>/<name>" against 253`,
          );
        } else if (
          prefix === "kubernetes.io" ||
          prefix.endsWith(".kubernetes.io") ||
          prefix.endsWith("kubernetes.io")
        ) {
          refuse(
            ctx,
            `${quote(prefix)} is reserved for Kubernetes' own resources, so the kubelet would refuse the pool`,
            "use your own domain, e.g. intel.com or example.com",
          );
        } else if (prefix.startsWith("requests.")) {
          refuse(
            ctx,
            `${quote(prefix)} starts with "requests.", which Kubernetes keeps for quotas`,
            "use a prefix like intel.com",
          );
        }
      })
      .default("intel.com"),
    deviceType: z.enum(["netDevice", "accelerator", "auxNetDevice"]).default("netDevice"),
    /** Extra selectors, e.g. vendors ["8086"], devices ["154c"]. */
    vendors: z
      .array(z.string().regex(/^[0-9a-f]{4}$/, { message: "must be a 4-digit lowercase hex vendor id like 8086" }))
      .optional(),
    devices: z
      .array(z.string().regex(/^[0-9a-f]{4}$/, { message: "must be a 4-digit lowercase hex device id like 154c" }))
      .optional(),
    excludeTopology: z.boolean().default(false),
  })
  .strict();

export const ipam = z.discriminatedUnion("type", [
  z.object({ type: z.literal("none") }).strict(),
  z.object({ type: z.literal("static") }).strict(),
  z
    .object({
      type: z.literal("host-local"),
      subnet: cidr,
      rangeStart: ipv4.optional(),
      rangeEnd: ipv4.optional(),
      gateway: ipv4.optional(),
    })
    .strict(),
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
    minTxRate: txRate.optional(),
    maxTxRate: txRate.optional(),
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

const extension = z.string().regex(/^[0-9A-Za-z_+*#-]{1,32}$/, {
  message: "must be a dialplan extension like 100: at most 32 letters, digits, '_', '+', '*', '#' or '-'",
});

export const pbxRole = z
  .object({
    extension: extension.default("100"),
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
    extension: extension.default("100"),
    /** Calls per second (SIPp -r takes fractions). */
    rate: z
      .number()
      .min(
        LIMITS.loadgen.rateMin,
        said(
          `is below ${LIMITS.loadgen.rateMin} calls per second`,
          `use a rate from ${LIMITS.loadgen.rateMin} to ${LIMITS.loadgen.rateMax}`,
        ),
      )
      .max(
        LIMITS.loadgen.rateMax,
        said(
          `is above ${LIMITS.loadgen.rateMax} calls per second`,
          `use a rate from ${LIMITS.loadgen.rateMin} to ${LIMITS.loadgen.rateMax}`,
        ),
      )
      .default(10),
    /** Maximum concurrent calls. */
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(
        LIMITS.loadgen.concurrency,
        said(`is above ${LIMITS.loadgen.concurrency} calls at once`, `use at most ${LIMITS.loadgen.concurrency}`),
      )
      .default(50),
    /** Total calls per run. */
    calls: z
      .number()
      .int()
      .min(1)
      .max(
        LIMITS.loadgen.calls,
        said(
          `is above ${LIMITS.loadgen.calls} calls in one run`,
          `use at most ${LIMITS.loadgen.calls}, or run the test again`,
        ),
      )
      .default(1000),
    /** Call hold time in milliseconds. */
    holdMs: z
      .number()
      .int()
      .min(0)
      .max(
        LIMITS.loadgen.holdMs,
        said(`is above ${LIMITS.loadgen.holdMs} ms (one hour)`, "hold each call at most an hour"),
      )
      .default(5000),
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
    /** Container disk image, pinned by a tag or digest (default per role). */
    image: imageReference.optional(),
    cpus: z.number().int().min(1).max(256).default(2),
    memory: memoryQuantity.default("2Gi"),
    tuning: vmTuning.default(vmTuningDefaults),
    nodeSelector: labels.default({}),
    interfaces: z.array(vmInterface).min(1),
    guestUser: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, POSIX_USER)
      .default("voip"),
    sshAuthorizedKeys: z
      .array(
        z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/, {
          message: "must be an OpenSSH public key line",
        }),
      )
      .default([]),
    pbx: pbxRole.optional(),
    loadgen: loadgenRole.optional(),
    custom: customRole.optional(),
  })
  .strict();

// ---- cluster add-ons ------------------------------------------------------------------

/** The network-resources-injector: an admission webhook that adds the VF requests to pods. */
export const injectorSettings = z
  .object(
    {
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
    },
    said(
      "must be true, false or a map of injector settings",
      "write `networkResourcesInjector: true`, or a map like `{replicas: 2, scope: virt-launcher}` (see stacks/Pulumi.example.yaml)",
    ),
  )
  .strict();

const featureGate = z.string().regex(/^[A-Za-z0-9]+$/, {
  message: "must be a KubeVirt feature gate name like CPUManager (letters and digits only)",
});

export const kubevirtConfig = z
  .object({
    version: releaseVersion.default(DEFAULT_VERSIONS.kubevirt),
    namespace: dnsLabel.default("kubevirt"),
    useEmulation: z.boolean().default(false),
    featureGates: z.array(featureGate).default([]),
    disabledFeatureGates: z.array(featureGate).default([]),
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
        url: z
          .url({
            protocol: /^https?$/,
            message: "must be an http(s) URL like https://mirror.example.internal/kubevirt-operator.yaml",
          })
          .optional(),
        /** SHA-256 of the manifest; required unless the program knows the release's hash. */
        sha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/, { message: "must be 64 lowercase hex digits (sha256sum output)" })
          .optional(),
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
    registryMirror: registryPrefix.optional(),
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
        multus: imageReference.optional(),
        sriovDevicePlugin: imageReference.optional(),
        sriovCni: imageReference.optional(),
        networkResourcesInjector: imageReference.optional(),
      })
      .strict()
      .default({}),
    /** Namespace of the node agents (Multus, device plugin, CNI). */
    agentNamespace: dnsLabel.default(DEFAULT_AGENT_NAMESPACE),
    /** SSH defaults for every node (a node's own ssh settings win). */
    ssh: z
      .object({
        privateKeySecret: secretKeyName.default("sshPrivateKey"),
        passwordSecret: secretKeyName.optional(),
        dialErrorLimit: z.number().int().min(1).max(1000).default(10),
        perDialTimeout: z.number().int().min(1).max(3600).default(15),
      })
      .strict()
      .default({ privateKeySecret: "sshPrivateKey", dialErrorLimit: 10, perDialTimeout: 15 }),
    kubevirt: kubevirtConfig.default(kubevirtConfig.parse({})),
    /** Node profiles by name: what the nodes of one hardware layout share (see nodeProfile). */
    profiles: z.record(profileName, nodeProfile).optional(),
    /**
     * Every node, each as a `node` once config/profiles.ts has expanded the entries that name a
     * profile or stand for many nodes (see nodeGroup).
     */
    nodes: z.array(node).min(1),
    pools: z.array(pool).min(1),
    networks: z.array(network).default([]),
    vms: z.array(vm).default([]),
  })
  .strict();

export type PlatformConfig = z.infer<typeof platform>;
export type PlatformInput = z.input<typeof platform>;
export type NodeConfig = z.infer<typeof node>;
export type NodeProfileConfig = z.infer<typeof nodeProfile>;
export type NicSelectorConfig = z.infer<typeof nicSelector>;
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
