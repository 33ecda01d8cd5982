// Parses a stack's raw config into the PlatformModel, or throws ONE ConfigError that lists
// every problem. Structural problems come from the zod schema; cross-field problems from
// the checks below, which run once the structure is sound. Every check is linear in the
// size of the config (fleet-scale stacks have thousands of VMs).
import { z } from "zod";
import { ConfigError, ConfigProblem, formatPath, PathSegment, ProblemList } from "./errors";
import {
  deriveMac,
  describeSelector,
  NetworkModel,
  NodeModel,
  PfModel,
  PlatformModel,
  PoolModel,
  VfGroupModel,
  VmModel,
} from "./model";
import { childNameCollisions } from "./names";
import { expandNodes, locateProblems, NodeSource, sourcePath } from "./profiles";
import { INJECTION_GATE } from "./kubevirtGates";
import { CONFIG_KEY, CONFIG_ROOT, LIMITS, platform, PlatformConfig, schemaFix } from "./schema";
import { findOverlap, parseVfRange, Span } from "./vfRanges";
import { DEFAULT_GUEST_IMAGES, versionAtLeast } from "./versions";

const EXAMPLE = "stacks/Pulumi.example.yaml";

/** The device plugin accepts only these characters in a resource name. */
const RESOURCE_NAME = /^[A-Za-z0-9_]+$/;
/** Feature gates that must never be set: SRIOV was removed from KubeVirt long ago. */
const REMOVED_GATES = new Set(["SRIOV"]);

/**
 * The value of the `platform` config key as the engine passes it (JSON text, or undefined when
 * the stack does not set it), for parsePlatform. A missing key is a config error that says how
 * to set it, not the SDK's own exception.
 */
export function platformConfigValue(text: string | undefined, stack: string, root: string = CONFIG_ROOT): unknown {
  if (text === undefined) {
    throw new ConfigError(
      root,
      [
        {
          path: [],
          problem: `is not set in stack "${stack}", and it holds the whole configuration (nodes, pools, networks, VMs)`,
          fix: `add a "${root}:" map under "config:" in stacks/Pulumi.${stack}.yaml (copy it from ${EXAMPLE}), or set its keys one by one, e.g. pulumi config set --path '${CONFIG_KEY}.nodes[0].name' worker-1; a fleet past ~100 KB goes in a file the stack names: pulumi config set platformFile fleets/${stack}.yaml`,
        },
      ],
      "missing stack configuration",
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    // A plain string value: parsePlatform says it is not a map.
    return text;
  }
}

export function parsePlatform(raw: unknown, root: string = CONFIG_ROOT): PlatformModel {
  // Profiles and node groups become one entry per node first; problems found in a node are
  // then reported where they were written (its entry, or its profile, once for all its nodes).
  const expansion = expandNodes(raw);
  // Problems with the entries and profiles themselves are at stack-file paths already.
  const early = [...expansion.problems, ...expansion.issues.map(fromZodIssue)];
  const parsed = platform.safeParse(expansion.raw, { reportInput: true });
  if (!parsed.success || early.length > 0) {
    const found = parsed.success ? [] : parsed.error.issues.map(fromZodIssue);
    // An entry that could not be expanded leaves no node behind: "needs at least 1 entry" would only confuse.
    const issues = early.length > 0 ? found.filter((p) => !(p.path.length === 1 && p.path[0] === "nodes")) : found;
    throw new ConfigError(root, locateProblems(expansion.sources, issues, early));
  }
  const problems = new ProblemList();
  const located: ConfigProblem[] = [];
  const model = crossCheck(parsed.data, expansion.sources, problems, located);
  if (problems.size > 0 || located.length > 0)
    throw new ConfigError(root, locateProblems(expansion.sources, problems.all, located));
  return { ...model, root };
}

/** A config path as `pulumi config set --path` takes it after the key: `nodes[3].hostKeys["r740-017"]`. */
export function configPath(path: readonly PathSegment[]): string {
  return formatPath("", path).replace(/^\./, "");
}

// ---- zod issues → problems with a cure -------------------------------------------------

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const article = (word: string): string => (/^[aeiou]/.test(word) ? "an" : "a");

/** A zod issue as a problem with its cure; exported for the test that reads every message. */
export function fromZodIssue(issue: z.core.$ZodIssue): ConfigProblem {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  const input = (issue as { input?: unknown }).input;
  // Where the schema wrote the fix, its message is the problem.
  const fix = schemaFix(issue);
  if (fix !== undefined && issue.code === "custom") {
    // Refinements write the whole problem, value included.
    return { path, problem: issue.message, fix };
  }
  if (
    fix !== undefined &&
    (issue.code === "invalid_format" || issue.code === "too_big" || issue.code === "too_small")
  ) {
    // A value is named before what is wrong with it; a list or map is the key itself.
    return {
      path,
      problem: typeof input === "object" && input !== null ? issue.message : `${describe(input)} ${issue.message}`,
      fix,
    };
  }
  if (
    (issue.code === "too_big" || issue.code === "too_small") &&
    issue.origin === "string" &&
    typeof input === "string"
  ) {
    if (issue.code === "too_small" && input.length === 0)
      return { path, problem: "is empty", fix: "write a value (see " + EXAMPLE + ")" };
    const limit = issue.code === "too_big" ? issue.maximum : issue.minimum;
    return {
      path,
      problem: `${describe(input)} has ${input.length} characters, ${issue.code === "too_big" ? "more" : "fewer"} than the ${issue.code === "too_big" ? "maximum" : "minimum"} ${limit}`,
      fix: issue.code === "too_big" ? `shorten it to at most ${limit} characters` : `use at least ${limit} characters`,
    };
  }
  switch (issue.code) {
    case "invalid_type": {
      const expected = issue.expected === "int" ? "integer" : issue.expected;
      const a = `${article(expected)} ${expected}`;
      if (input === undefined) return { path, problem: `is required (${a})`, fix: `add it (see ${EXAMPLE})` };
      // The schema spelled out what this key accepts.
      if (fix !== undefined) return { path, problem: `${issue.message}, got ${describe(input)}`, fix };
      return { path, problem: `must be ${a}, got ${describe(input)}`, fix: `write ${a} value (see ${EXAMPLE})` };
    }
    case "invalid_value":
      return {
        path,
        problem: `${describe(input)} is not allowed`,
        fix: `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
      };
    case "too_small":
      return {
        path,
        problem:
          issue.origin === "array"
            ? `needs at least ${issue.minimum} entr${Number(issue.minimum) === 1 ? "y" : "ies"}`
            : `${describe(input)} is below the minimum ${issue.minimum}`,
        fix: issue.origin === "array" ? "add the missing entries" : `use a value of at least ${issue.minimum}`,
      };
    case "too_big":
      return {
        path,
        problem:
          issue.origin === "array"
            ? `has more than ${issue.maximum} entries`
            : `${describe(input)} is above the maximum ${issue.maximum}`,
        fix: issue.origin === "array" ? "remove entries" : `use a value of at most ${issue.maximum}`,
      };
    case "invalid_format":
      return { path, problem: `${describe(input)} ${issue.message}`, fix: "correct the value to that format" };
    case "invalid_key": {
      // A map key the schema refuses: report the key's own problem.
      const inner = issue.issues[0];
      return inner !== undefined
        ? { ...fromZodIssue(inner as z.core.$ZodIssue), path }
        : { path, problem: `key ${describe(input)} is not allowed`, fix: `correct the key (see ${EXAMPLE})` };
    }
    case "unrecognized_keys":
      return {
        path,
        problem: `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`,
        fix: `remove it or fix its spelling (${EXAMPLE} lists every key)`,
      };
    case "invalid_union": {
      const u = issue as { discriminator?: string; options?: unknown[] };
      if (u.discriminator !== undefined && u.options !== undefined) {
        const value =
          input !== null && typeof input === "object" ? (input as Record<string, unknown>)[u.discriminator] : input;
        return {
          path,
          problem: `${describe(value)} is not allowed`,
          fix: `use one of: ${u.options.map((o) => JSON.stringify(o)).join(", ")}`,
        };
      }
      return {
        path,
        problem: `${describe(input)} matches none of the allowed forms`,
        fix: `use one of the forms shown in ${EXAMPLE}`,
      };
    }
    default:
      return { path, problem: issue.message, fix: `correct the value (see ${EXAMPLE})` };
  }
}

// ---- cross-field checks ---------------------------------------------------------------

function duplicates<T>(
  items: readonly T[],
  key: (t: T) => string,
  report: (index: number, k: string, firstIndex: number) => void,
): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else report(i, k, first);
  });
}

/**
 * `problems` are at paths of the expanded config (`nodes[k]` is the k-th node); `located` ones
 * are at paths of the stack file already (an entry's `hostKeys`).
 */
function crossCheck(
  cfg: PlatformConfig,
  sources: readonly NodeSource[],
  problems: ProblemList,
  located: ConfigProblem[],
): Omit<PlatformModel, "root"> {
  checkAddons(cfg, problems);
  for (const p of childNameCollisions(cfg)) problems.add(p.path, p.problem, p.fix);

  // Pools.
  const pools = new Map<string, PoolModel>();
  cfg.pools.forEach((p, i) => {
    if (!RESOURCE_NAME.test(p.name)) {
      problems.add(
        ["pools", i, "name"],
        `"${p.name}" has characters the device plugin refuses (only letters, digits and '_' are allowed)`,
        `rename it, e.g. "${p.name.replace(/[^A-Za-z0-9_]/g, "_")}"`,
      );
    } else if (p.name.length > LIMITS.poolName) {
      problems.add(
        ["pools", i, "name"],
        `"${p.name.slice(0, 40)}..." has ${p.name.length} characters: Kubernetes takes at most ${LIMITS.poolName} in the name of a resource`,
        `shorten it to at most ${LIMITS.poolName} characters`,
      );
    } else if (/^_|_$/.test(p.name)) {
      problems.add(
        ["pools", i, "name"],
        `"${p.name}" starts or ends with '_': Kubernetes refuses such a resource name (${p.prefix}/${p.name})`,
        `start and end it with a letter or digit, e.g. "${p.name.replace(/^_+|_+$/g, "") || "pool"}"`,
      );
    }
    if (pools.has(p.name)) {
      problems.add(["pools", i, "name"], `duplicate pool "${p.name}"`, "give each pool a unique name");
      return;
    }
    pools.set(p.name, {
      config: p,
      resource: `${p.prefix}/${p.name}`,
      members: [],
      supplyByNode: new Map(),
      supply: 0,
    });
  });

  // Nodes, PFs, VF assignment.
  duplicates(
    cfg.nodes,
    (n) => n.name,
    (i, k) => problems.add(["nodes", i, "name"], `duplicate node "${k}"`, "list each Kubernetes node once"),
  );
  const nodes: NodeModel[] = cfg.nodes.map((n, ni) => buildNode(n, ni, sources, pools, problems));
  checkHostKeys(cfg, nodes, problems, located);
  checkNodeIdentity(cfg, problems);

  // Networks.
  const networks = new Map<string, NetworkModel>();
  const byName = new Map<string, NetworkModel[]>();
  cfg.networks.forEach((net, i) => {
    const path: PathSegment[] = ["networks", i];
    const ref = `${net.namespace}/${net.name}`;
    const pool = pools.get(net.pool);
    if (!pool) {
      problems.add(
        [...path, "pool"],
        `unknown pool "${net.pool}"`,
        `use one of the pools defined under pools: ${[...pools.keys()].join(", ") || "(none)"}`,
      );
    }
    if (net.vlan < 0 || net.vlan > 4094) {
      problems.add(
        [...path, "vlan"],
        `VLAN ${net.vlan} is outside 0–4094`,
        "use a VLAN ID from 1 to 4094, or 0 for untagged",
      );
    }
    if (net.vlanQoS !== undefined) {
      if (net.vlan === 0)
        problems.add(
          [...path, "vlanQoS"],
          "vlanQoS is set but the network has no VLAN (vlan 0)",
          "set a vlan from 1 to 4094, or remove vlanQoS",
        );
      if (net.vlanQoS < 0 || net.vlanQoS > 7)
        problems.add(
          [...path, "vlanQoS"],
          `vlanQoS ${net.vlanQoS} is outside 0–7`,
          "use an 802.1p priority from 0 to 7",
        );
    }
    if (net.vlanProto !== undefined && net.vlan === 0) {
      problems.add(
        [...path, "vlanProto"],
        "vlanProto is set but the network has no VLAN (vlan 0)",
        "set a vlan from 1 to 4094, or remove vlanProto",
      );
    }
    if (net.mtu !== undefined && (net.mtu < 68 || net.mtu > 9702)) {
      problems.add(
        [...path, "mtu"],
        `MTU ${net.mtu} is outside 68–9702`,
        "use an MTU the NIC supports, e.g. 1500 or 9000",
      );
    }
    if (
      net.minTxRate !== undefined &&
      net.maxTxRate !== undefined &&
      net.maxTxRate > 0 &&
      net.minTxRate > net.maxTxRate
    ) {
      problems.add(
        [...path, "minTxRate"],
        `minTxRate ${net.minTxRate} exceeds maxTxRate ${net.maxTxRate}`,
        "lower minTxRate or raise maxTxRate (Mbps)",
      );
    }
    if (networks.has(ref)) {
      problems.add(
        [...path, "name"],
        `duplicate network "${ref}"`,
        "give each network a unique name within its namespace",
      );
      return;
    }
    if (!pool) return;
    const model: NetworkModel = { config: net, ref, pool };
    networks.set(ref, model);
    const list = byName.get(net.name) ?? [];
    list.push(model);
    byName.set(net.name, list);
  });

  const vms = checkVms(cfg, networks, byName, problems);
  checkLoadTargets(vms, problems);
  checkVmPools(vms, problems);

  return { config: cfg, nodes, pools, networks, vms };
}

/** `pulumi config set` that pins the key a command prints, as one line that works as printed. */
export function pinHostKeyCommand(configPath: string, scan: string): string {
  return `pulumi config set --path '${CONFIG_KEY}.${configPath}' "$(${scan} 2>/dev/null | grep -v '^#' | head -n 1 | cut -d' ' -f2-)"`;
}

const keyscan = (host: string, port: number) => `ssh-keyscan -t ed25519 -p ${port} ${host}`;
/** Unpinned production nodes named one by one per node entry; the rest are counted. */
const MAX_UNPINNED_PER_ENTRY = 10;

/**
 * Host keys: pinned in the stack, or recorded by the program at first contact (trust on first
 * use, components/hostKeys.ts; a node behind a jump host is scanned from the jump host).
 * Production accepts only pinned keys. Check a printed key's fingerprint out of band (the
 * host's console) before pinning it.
 */
function checkHostKeys(
  cfg: PlatformConfig,
  nodes: readonly NodeModel[],
  problems: ProblemList,
  located: ConfigProblem[],
): void {
  if (cfg.environment !== "production") return;
  // A group of hundreds of unpinned nodes is one mistake: name the first few of each entry.
  const shown = new Map<number, number>();
  const more = new Map<number, { count: number; path: PathSegment[] }>();
  cfg.nodes.forEach((n, i) => {
    const src = nodes[i].source;
    const b = n.bastion;
    if (n.ssh.hostKey === undefined) {
      const count = shown.get(src.entry) ?? 0;
      if (count >= MAX_UNPINNED_PER_ENTRY) {
        const m = more.get(src.entry) ?? { count: 0, path: src.hostKey.slice(0, 3) };
        m.count++;
        more.set(src.entry, m);
      } else {
        shown.set(src.entry, count + 1);
        const scan =
          b === undefined
            ? keyscan(n.ssh.host, n.ssh.port)
            : `ssh -p ${b.port} ${b.user}@${b.host} ${keyscan(n.ssh.host, n.ssh.port)}`;
        problems.add(
          ["nodes", i, "ssh", "hostKey"],
          `node "${n.name}" has no pinned SSH host key, and a production stack does not trust keys on first use`,
          `pin it: ${pinHostKeyCommand(configPath(src.hostKey), scan)}`,
        );
      }
    }
    if (b !== undefined && b.hostKey === undefined) {
      // A profile's jump host serves every node of the profile: one problem, said once.
      const who =
        src.bastionHostKey[0] === "profiles"
          ? `the jump host of profile "${src.profile}"`
          : `the jump host of node "${n.name}"`;
      problems.add(
        ["nodes", i, "bastion", "hostKey"],
        `${who} has no pinned SSH host key, and a production stack does not trust keys on first use`,
        `pin it: ${pinHostKeyCommand(configPath(src.bastionHostKey), keyscan(b.host, b.port))}`,
      );
    }
  });
  for (const [entry, m] of more) {
    located.push({
      path: m.path,
      problem: `${m.count} more node${m.count === 1 ? " has" : "s have"} no pinned SSH host key (a production stack does not trust keys on first use)`,
      fix: `pin each in nodes[${entry}].hostKeys the same way (read the keys on the hosts' consoles, or scan them as shown above)`,
    });
  }
}

/** nodes[].identity replaces the hostname check: an empty one would silently check the default. */
function checkNodeIdentity(cfg: PlatformConfig, problems: ProblemList): void {
  cfg.nodes.forEach((n, i) => {
    if (n.identity !== undefined && n.identity.hostname === undefined && n.identity.machineId === undefined) {
      problems.add(
        ["nodes", i, "identity"],
        `node "${n.name}" has an identity with neither hostname nor machineId`,
        "set identity.hostname (the host's hostname, when the kubelet runs with --hostname-override) or identity.machineId (its /etc/machine-id), or remove identity to expect the hostname " +
          n.name,
      );
    }
  });
}

function checkAddons(cfg: PlatformConfig, problems: ProblemList): void {
  const kv = cfg.kubevirt;
  kv.featureGates.forEach((g, i) => {
    if (REMOVED_GATES.has(g)) {
      problems.add(
        ["kubevirt", "featureGates", i],
        `feature gate "${g}" no longer exists in KubeVirt`,
        "remove it: SR-IOV needs no gate",
      );
    }
    if (g === INJECTION_GATE && !kv.networkResourcesInjector) {
      problems.add(
        ["kubevirt", "featureGates", i],
        `"${INJECTION_GATE}" on without the network-resources-injector leaves SR-IOV VMs without a VF`,
        "remove the gate, or set kubevirt.networkResourcesInjector: true",
      );
    }
  });
  if (kv.networkResourcesInjector && kv.disabledFeatureGates.includes(INJECTION_GATE)) {
    problems.add(
      ["kubevirt", "disabledFeatureGates"],
      `"${INJECTION_GATE}" is disabled but networkResourcesInjector is true: the injector would never be used`,
      "choose one: remove it from disabledFeatureGates or set networkResourcesInjector: false",
    );
  }
  const nri = kv.networkResourcesInjector;
  if (nri) {
    const at = ["kubevirt", "networkResourcesInjector", "certificate"];
    const c = nri.certificate;
    if (c.renewEveryDays >= c.validityDays) {
      problems.add(
        [...at, "renewEveryDays"],
        `renewing every ${c.renewEveryDays} days lets a ${c.validityDays}-day certificate expire between renewals`,
        "make renewEveryDays smaller than validityDays (half of it leaves room for a missed run)",
      );
    }
    if (c.caValidityDays <= c.validityDays) {
      problems.add(
        [...at, "caValidityDays"],
        `a ${c.caValidityDays}-day CA cannot sign a ${c.validityDays}-day certificate`,
        "make caValidityDays larger than validityDays (the default is 3650)",
      );
    }
    if (!versionAtLeast(kv.version, "v1.9.0") && !kv.featureGates.includes(INJECTION_GATE)) {
      problems.add(
        ["kubevirt", "networkResourcesInjector"],
        `KubeVirt ${kv.version} requests the VFs itself unless "${INJECTION_GATE}" is on, so the injector would never be used`,
        `add "${INJECTION_GATE}" to kubevirt.featureGates, or drop networkResourcesInjector`,
      );
    }
  }
  const m = kv.operatorManifest;
  if (m.file !== undefined && m.url !== undefined) {
    problems.add(
      ["kubevirt", "operatorManifest"],
      "both file and url are set",
      "keep one: file for a local copy, url for a mirror",
    );
  }
}

/** A PF's path in the expanded config: problems are located (to an entry or a profile) once, at the end. */
const expandedPath = new WeakMap<PfModel, PathSegment[]>();

function buildNode(
  n: PlatformConfig["nodes"][number],
  ni: number,
  sources: readonly NodeSource[],
  pools: Map<string, PoolModel>,
  problems: ProblemList,
): NodeModel {
  const base: PathSegment[] = ["nodes", ni];
  const pfs: PfModel[] = [];
  const seen = {
    pciAddress: new Map<string, number>(),
    name: new Map<string, number>(),
    selector: new Map<string, number>(),
  };
  if (n.ssh.passwordSecret !== undefined && n.ssh.privateKeySecret !== undefined) {
    problems.add([...base, "ssh"], "both privateKeySecret and passwordSecret are set", "keep one way to log in");
  }
  const src = sources[ni];
  const source = {
    entry: src?.entry ?? ni,
    ...(src?.profile !== undefined ? { profile: src.profile } : {}),
    hostKey: sourcePath(sources, [...base, "ssh", "hostKey"]),
    bastionHostKey: sourcePath(sources, [...base, "bastion", "hostKey"]),
  };
  n.physicalFunctions.forEach((pf, pi) => {
    const path: PathSegment[] = [...base, "physicalFunctions", pi];
    const ways = (["name", "pciAddress", "selector"] as const).filter((k) => pf[k] !== undefined);
    if (ways.length !== 1) {
      problems.add(
        path,
        "a physical function needs exactly one of name, pciAddress or selector",
        'set name (e.g. ens1f0), pciAddress (e.g. 0000:02:00.0) or a selector (e.g. {vendor: "8086", device: "1593", port: 0}), only one',
      );
      return;
    }
    const way = ways[0];
    const key = pf.selector !== undefined ? describeSelector(pf.selector) : ((pf.name ?? pf.pciAddress) as string);
    const first = seen[way].get(key);
    if (first !== undefined) {
      problems.add(
        [...path, way],
        `duplicate physical function "${key}" (also at physicalFunctions[${first}])`,
        "list each PF of a node once",
      );
      return;
    }
    seen[way].set(key, pi);

    const groups: VfGroupModel[] = [];
    if ((pf.pool === undefined) === (pf.ranges === undefined) && pf.numVfs > 0) {
      problems.add(
        path,
        "a physical function with VFs needs exactly one of pool or ranges",
        "set pool to give every VF to one pool, or ranges to split them",
      );
    } else if (pf.pool !== undefined) {
      if (pf.numVfs > 0) groups.push({ first: 0, last: pf.numVfs - 1, pool: pf.pool, driver: pf.driver });
    } else if (pf.ranges !== undefined) {
      const spans: Span[] = [];
      pf.ranges.forEach((r, ri) => {
        const parsed = parseVfRange(r.vfs);
        if (typeof parsed === "string") {
          problems.add([...path, "ranges", ri, "vfs"], parsed, "write ranges low-high, e.g. 0-3");
          return;
        }
        for (const s of parsed) {
          if (s.last >= pf.numVfs) {
            problems.add(
              [...path, "ranges", ri, "vfs"],
              `VF ${s.last} does not exist: the PF gets ${pf.numVfs} VFs (0–${pf.numVfs - 1})`,
              `raise numVfs to at least ${s.last + 1} or shrink the range`,
            );
          }
          spans.push(s);
          groups.push({ first: s.first, last: s.last, pool: r.pool, driver: r.driver ?? pf.driver });
        }
      });
      const overlap = findOverlap(spans);
      if (overlap) {
        problems.add(
          [...path, "ranges"],
          `VF ranges overlap (${overlap[0].first}-${overlap[0].last} and ${overlap[1].first}-${overlap[1].last})`,
          "give each VF to one pool only",
        );
      }
    }
    if (
      pf.vfSettings?.minTxRate !== undefined &&
      pf.vfSettings.maxTxRate !== undefined &&
      pf.vfSettings.maxTxRate > 0 &&
      pf.vfSettings.minTxRate > pf.vfSettings.maxTxRate
    ) {
      problems.add(
        [...path, "vfSettings", "minTxRate"],
        "minTxRate exceeds maxTxRate",
        "lower minTxRate or raise maxTxRate (Mbps)",
      );
    }
    const count = pf.selector?.count ?? 1;
    const model: PfModel = { key, config: pf, groups, path: sourcePath(sources, path), count };
    expandedPath.set(model, path);
    for (const g of groups) {
      const pool = pools.get(g.pool);
      if (!pool) {
        const where = pf.pool !== undefined ? [...path, "pool"] : [...path, "ranges"];
        problems.add(
          where,
          `unknown pool "${g.pool}"`,
          `define it under pools, or use one of: ${[...pools.keys()].join(", ") || "(none)"}`,
        );
        continue;
      }
      pool.members.push({ node: n.name, pf: model, group: g });
      const count = (g.last - g.first + 1) * model.count;
      pool.supplyByNode.set(n.name, (pool.supplyByNode.get(n.name) ?? 0) + count);
      pool.supply += count;
    }
    pfs.push(model);
  });
  const groups = pfs.reduce((sum, pf) => sum + pf.groups.length, 0);
  if (groups > LIMITS.vfGroupsPerNode) {
    // A profile's PFs: one problem for the profile, not one per node.
    const at = sourcePath(sources, [...base, "physicalFunctions"]);
    const who = at[0] === "profiles" ? `profile "${at[1]}"` : `node "${n.name}"`;
    problems.add(
      [...base, "physicalFunctions"],
      `${who} splits its VFs into ${groups} ranges, more than the ${LIMITS.vfGroupsPerNode} node preparation sends in one command`,
      'merge adjacent ranges of the same pool ("0-7" instead of "0,1,...,7")',
    );
  }
  return { config: n, pfs, source };
}

function checkVms(
  cfg: PlatformConfig,
  networks: Map<string, NetworkModel>,
  byName: Map<string, NetworkModel[]>,
  problems: ProblemList,
): VmModel[] {
  const vms: VmModel[] = [];
  const macs = new Map<string, string>();
  const addresses = new Map<string, string>();
  const refs = new Set<string>();
  const roles = new Map<string, string>();
  cfg.vms.forEach((v) => roles.set(v.name, v.role));

  cfg.vms.forEach((v, i) => {
    const path: PathSegment[] = ["vms", i];
    const ref = `${v.namespace}/${v.name}`;
    if (refs.has(ref))
      problems.add([...path, "name"], `duplicate VM "${ref}"`, "give each VM a unique name within its namespace");
    refs.add(ref);

    // Role blocks.
    for (const role of ["pbx", "loadgen", "custom"] as const) {
      if (v[role] !== undefined && v.role !== role) {
        problems.add([...path, role], `a ${v.role} VM has a "${role}" block`, `remove it, or set role: ${role}`);
      }
    }
    if (v.role === "loadgen") {
      if (v.loadgen === undefined)
        problems.add(
          [...path, "loadgen"],
          "a loadgen VM needs a loadgen block with its target PBX",
          "add loadgen: { target: <pbx vm name> }",
        );
      else if (roles.get(v.loadgen.target) !== "pbx") {
        problems.add(
          [...path, "loadgen", "target"],
          `"${v.loadgen.target}" is not a PBX VM of this stack`,
          `name a VM with role: pbx`,
        );
      }
    }
    if (v.role === "custom" && v.custom === undefined) {
      problems.add(
        [...path, "custom"],
        "a custom VM needs custom.userData",
        'add custom: { userData: "#cloud-config ..." }',
      );
    }

    // Latency tuning prerequisites.
    const t = v.tuning;
    if (t.isolateEmulatorThread && !t.dedicatedCpus) {
      problems.add(
        [...path, "tuning", "isolateEmulatorThread"],
        "an isolated emulator thread needs dedicated CPUs",
        "set tuning.dedicatedCpus: true or isolateEmulatorThread: false",
      );
    }
    if (t.numaPassthrough && (!t.dedicatedCpus || t.hugepages === "none")) {
      problems.add(
        [...path, "tuning", "numaPassthrough"],
        "NUMA guest mapping passthrough needs dedicated CPUs and hugepages",
        "set tuning.dedicatedCpus: true and tuning.hugepages to 1Gi or 2Mi, or numaPassthrough: false",
      );
    }
    if (t.hugepages === "1Gi" && !/^\d+Gi$/.test(v.memory)) {
      problems.add(
        [...path, "memory"],
        `memory ${v.memory} is not a whole number of 1Gi hugepages`,
        "use a memory size in Gi, or tuning.hugepages: 2Mi",
      );
    }
    if (t.hugepages === "2Mi" && /Mi$/.test(v.memory) && parseInt(v.memory, 10) % 2 !== 0) {
      problems.add(
        [...path, "memory"],
        `memory ${v.memory} is not a whole number of 2Mi hugepages`,
        "use an even number of Mi",
      );
    }

    // Interfaces.
    const ifaces: VmModel["interfaces"] = [];
    v.interfaces.forEach((itf, ii) => {
      const ipath: PathSegment[] = [...path, "interfaces", ii];
      let net: NetworkModel | undefined;
      if (itf.network.includes("/")) net = networks.get(itf.network);
      else {
        const candidates = byName.get(itf.network) ?? [];
        net =
          candidates.find((c) => c.config.namespace === v.namespace) ??
          (candidates.length === 1 ? candidates[0] : undefined);
        if (!net && candidates.length > 1) {
          problems.add(
            [...ipath, "network"],
            `"${itf.network}" exists in several namespaces`,
            `write it as <namespace>/${itf.network}`,
          );
          return;
        }
      }
      if (!net) {
        problems.add(
          [...ipath, "network"],
          `unknown network "${itf.network}"`,
          `use one of the networks defined under networks: ${[...networks.keys()].join(", ") || "(none)"}`,
        );
        return;
      }
      const mac = itf.mac ?? deriveMac(ref, net.ref);
      const macOwner = macs.get(mac);
      if (macOwner !== undefined)
        problems.add([...ipath, "mac"], `MAC ${mac} is already used by ${macOwner}`, "give each interface its own MAC");
      macs.set(mac, `${ref} on ${net.ref}`);
      const ip = itf.address.split("/")[0];
      const addrKey = `${net.ref}|${ip}`;
      const owner = addresses.get(addrKey);
      if (owner !== undefined)
        problems.add(
          [...ipath, "address"],
          `${ip} is already used on ${net.ref} by ${owner}`,
          "give each VM its own address",
        );
      addresses.set(addrKey, ref);
      if (!validIpv4Cidr(itf.address)) {
        problems.add(
          [...ipath, "address"],
          `"${itf.address}" is not a valid IPv4 address/prefix`,
          "use octets 0–255 and a prefix 1–32",
        );
      } else if (net.config.subnet !== undefined && !inSubnet(itf.address, net.config.subnet)) {
        problems.add(
          [...ipath, "address"],
          `${itf.address} is outside the network's subnet ${net.config.subnet}`,
          `pick an address in ${net.config.subnet}`,
        );
      }
      ifaces.push({ config: itf, network: net, mac });
    });
    vms.push({ config: v, ref, interfaces: ifaces, image: v.image ?? DEFAULT_GUEST_IMAGES[v.role] });
  });
  return vms;
}

/** A load generator must call an extension its PBX answers, from an address it accepts. */
function checkLoadTargets(vms: VmModel[], problems: ProblemList): void {
  const pbxByName = new Map<string, VmModel>();
  for (const vm of vms) if (vm.config.role === "pbx") pbxByName.set(vm.config.name, vm);
  vms.forEach((vm, i) => {
    const lg = vm.config.loadgen;
    if (vm.config.role !== "loadgen" || lg === undefined) return;
    const pbx = pbxByName.get(lg.target);
    if (!pbx) return;
    const pbxExt = pbx.config.pbx?.extension ?? "100";
    if (lg.extension !== pbxExt) {
      problems.add(
        ["vms", i, "loadgen", "extension"],
        `calls extension ${lg.extension} but PBX "${pbx.config.name}" answers ${pbxExt}`,
        `set loadgen.extension to "${pbxExt}" (every call would fail with 404)`,
      );
    }
    const own = vm.interfaces[0]?.config.address;
    const pbxIf = pbx.interfaces[0]?.config.address;
    const allow = pbx.config.pbx?.allowFrom ?? (pbxIf !== undefined ? subnetOf(pbxIf) : undefined);
    if (own !== undefined && allow !== undefined && !inSubnet(own, allow)) {
      problems.add(
        ["vms", i, "interfaces", 0, "address"],
        `${own} is outside ${allow}, the subnet PBX "${pbx.config.name}" accepts calls from`,
        "give the load generator an address in that subnet, or widen the PBX's pbx.allowFrom",
      );
    }
  });
}

function subnetOf(address: string): string | undefined {
  const [ip, lenText] = address.split("/");
  const a = parseIpv4(ip);
  const len = Number(lenText);
  if (a === undefined || !(len >= 0 && len <= 32)) return undefined;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const n = (a & mask) >>> 0;
  return `${[24, 16, 8, 0].map((sh) => (n >>> sh) & 255).join(".")}/${len}`;
}

/** Pools that VMs use must hand out VFs bound to vfio-pci, and only those. */
function checkVmPools(vms: VmModel[], problems: ProblemList): void {
  // Each pool is checked once, however many VMs use it (a scan per VM is quadratic at scale).
  const checked = new Set<string>();
  for (const vm of vms) {
    for (const itf of vm.interfaces) {
      const pool = itf.network.pool;
      if (checked.has(pool.config.name)) continue;
      checked.add(pool.config.name);
      const bad = pool.members.find((m) => m.group.driver !== "vfio-pci");
      if (bad) {
        problems.add(
          [...(expandedPath.get(bad.pf) ?? bad.pf.path), "driver"],
          `pool "${pool.config.name}" is used by VM ${vm.ref} but VFs ${bad.group.first}-${bad.group.last} of ${bad.node}/${bad.pf.key} use the ${bad.group.driver} driver`,
          "set driver: vfio-pci for every VF of a pool that VMs use (KubeVirt passes VFs through with vfio)",
        );
      }
    }
  }
}

export function parseIpv4(ip: string): number | undefined {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function validIpv4Cidr(text: string): boolean {
  const [ip, len] = text.split("/");
  const n = Number(len);
  return parseIpv4(ip) !== undefined && Number.isInteger(n) && n >= 1 && n <= 32;
}

export function inSubnet(address: string, subnet: string): boolean {
  const [ip] = address.split("/");
  const [net, lenText] = subnet.split("/");
  const a = parseIpv4(ip);
  const b = parseIpv4(net);
  const len = Number(lenText);
  if (a === undefined || b === undefined || !(len >= 0 && len <= 32)) return false;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (a & mask) === (b & mask);
}
