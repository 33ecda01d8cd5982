// Desired state of one node's SR-IOV physical functions, and the two renderings the
// node script consumes: a line-oriented form bash reads with `read` (no jq or python on
// nodes), and the exact shell command a `remote.Command` runs over SSH.
// Pure functions: no Pulumi here.
import * as fs from "fs";
import * as path from "path";
import { gzipSync } from "zlib";

export interface VfGroup {
  first: number;
  last: number;
  driver: "vfio-pci" | "netdevice";
  pool: string;
  trust?: boolean;
  spoofchk?: boolean;
  vlan?: number;
  qos?: number;
  minTxRate?: number;
  maxTxRate?: number;
  linkState?: "auto" | "enable" | "disable";
}

/**
 * A PF given by what it is, resolved by the node script against the node's SR-IOV PFs at
 * apply time: every given criterion must hold, and exactly `count` PFs must match.
 */
export interface PfSelector {
  vendor?: string;
  device?: string;
  /** Interface name pattern (shell glob). */
  pfName?: string;
  /** The n-th port of its NIC (0 = first). */
  port?: number;
  count: number;
  /** Where the stack config writes it (`profiles.r740.physicalFunctions[0]`): named in messages and the report. */
  where: string;
}

export interface PfState {
  name?: string;
  pciAddress?: string;
  /** Instead of name and pciAddress. */
  selector?: PfSelector;
  numVfs: number;
  mtu?: number;
  vfGroups: VfGroup[];
}

/**
 * What the host must be before apply writes anything. Default: its hostname is the node
 * name (short or fully qualified), as the kubelet names a node.
 */
export interface NodeIdentity {
  /** The host's hostname, when the kubelet runs with --hostname-override. */
  hostname?: string;
  /** The host's /etc/machine-id (32 hex digits); the hostname is then checked only when also given. */
  machineId?: string;
}

export interface NodeState {
  schema: 1;
  node: string;
  /**
   * Who prepares the node: "<project>/<stack>/<node entry>". The host keeps each owner's
   * state and claims apart, so one owner's revert never undoes another's PFs. Default
   * (tests, hand runs): "kubevirt-sriov/manual/<node>"; SriovNodePrep always sets it.
   */
  owner?: string;
  identity?: NodeIdentity;
  /** The node's profile, named in the node script's messages about its NIC selectors. */
  profile?: string;
  allowDisruption: boolean;
  pfs: PfState[];
  kernel: { iommu: "intel" | "amd"; hugepages1G: number; hugepages2M: number; writeBootloader: boolean };
}

export type NodeVerb = "apply" | "revert" | "discover";

/** Test hooks: where the script finds /sys, /proc, /etc and /dev, and extra PATH entries. */
export interface NodeRoots {
  sysfs?: string;
  proc?: string;
  etc?: string;
  dev?: string;
}

export interface RemoteCommandOptions {
  /** Run the script through `sudo -n` (the SSH user is not root). */
  sudo?: boolean;
  /** Non-default roots, passed inline as VAR=value (sshd's AcceptEnv is not relied on). */
  roots?: NodeRoots;
  /** Directory prepended to PATH on the node (tests put ip/modprobe/systemctl shims there). */
  pathPrefix?: string;
}

/**
 * The desired-state line format, defined here once: renderStateLines writes it and
 * node/sriov-node.sh (parse_state) reads it; test/unit/nodeprep-format.test.ts fails when the
 * script's parser and this table disagree. One entry per line: its keyword, then its fields
 * in order, one space apart; '-' stands for a field not given, flags are 0 or 1. Lines come in
 * this order: schema, node, owner, identity, allow_disruption, kernel, profile (only when the
 * node has one: the script names it in its messages about NIC selectors), one `pf` or `select`
 * per PF entry in config order, the `group` lines, then `end`, without which the script
 * refuses the state as truncated.
 * - identity: what the host must be ('-' for both: its hostname is the node name).
 * - pf: a PF by interface name, PCI address or both.
 * - select: a PF entry by NIC selector (vendor, device, interface name glob, port on its NIC),
 *   matching exactly `count` PFs; `where` is its config path, named in messages.
 * - group: a VF range of the pf/select entry numbered `pf` (0-based, in line order), its pool's
 *   driver and per-VF settings (minTxRate and maxTxRate in Mb/s).
 */
export const STATE_LINE_FIELDS = {
  schema: ["version"],
  node: ["node"],
  owner: ["owner"],
  identity: ["hostname", "machineId"],
  allow_disruption: ["allowDisruption"],
  kernel: ["iommu", "hugepages1G", "hugepages2M", "writeBootloader"],
  profile: ["profile"],
  pf: ["name", "pciAddress", "numVfs", "mtu"],
  select: ["vendor", "device", "pattern", "port", "count", "numVfs", "mtu", "where"],
  group: [
    "pf",
    "first",
    "last",
    "driver",
    "pool",
    "trust",
    "spoofchk",
    "vlan",
    "qos",
    "minTxRate",
    "maxTxRate",
    "linkState",
  ],
  end: [],
} as const;

export type StateLineKeyword = keyof typeof STATE_LINE_FIELDS;

/** One state line, its fields put in the table's order, so no caller can misplace one. */
function stateLine<K extends StateLineKeyword>(
  keyword: K,
  fields: Record<(typeof STATE_LINE_FIELDS)[K][number], string | number>,
): string {
  const values = fields as Record<string, string | number>;
  return [keyword, ...STATE_LINE_FIELDS[keyword].map((f: string) => String(values[f]))].join(" ");
}

/** Where the node script lives in this repository. */
export const NODE_SCRIPT_PATH = path.join(__dirname, "..", "node", "sriov-node.sh");

// Kernel/PCI facts the tokens must respect (they end up as words on a shell line).
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/; // IFNAMSIZ 16 incl. NUL; no '/', ':' or space
const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/; // sysfs spelling: lowercase hex
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/; // Kubernetes node name (DNS-1123 subdomain)
const POOL = /^[A-Za-z0-9_.-]{1,63}$/;
// <project>/<stack>/<node>: Pulumi project and stack names, then a node name; one path each.
const OWNER =
  /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const MACHINE_ID = /^[0-9a-f]{32}$/;
const PCI_ID = /^[0-9a-f]{4}$/;
const PF_PATTERN = /^[A-Za-z0-9*?[][A-Za-z0-9_.*?[\]-]{0,31}$/;
const PROFILE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// A config path like profiles.r740.physicalFunctions[0] or profiles["gen-2"]...: one word.
const WHERE = /^[A-Za-z0-9_.[\]"-]{1,255}$/;
/**
 * The word patterns of the state lines, by the name the node script gives its copy (RE_<key>, in
 * POSIX ERE): the script checks every word again, and test/unit/nodeprep-format.test.ts checks that
 * both copies accept the same words.
 */
export const STATE_TOKEN_PATTERNS: Readonly<Record<string, RegExp>> = {
  IFNAME,
  BDF,
  NODE: NODE_NAME,
  POOL,
  OWNER,
  MACHINE_ID,
  PCI_ID,
  PF_PATTERN,
  PROFILE,
  WHERE,
};
const ROOT_PATH = /^\/[A-Za-z0-9_./-]*$/;
const MAX_TOTAL_VFS = 0xffff; // PCIe TotalVFs is a 16-bit field
const MAX_COMMAND_BYTES = 120 * 1024; // Linux MAX_ARG_STRLEN is 128 KiB for `sh -c <command>`

function fail(where: string, msg: string): never {
  throw new Error(`node state ${where}: ${msg}`);
}

function uint(where: string, v: unknown, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    fail(where, `expected an integer 0..${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optUint(where: string, v: unknown, max: number): string {
  return v === undefined ? "-" : String(uint(where, v, max));
}

function optFlag(where: string, v: unknown): string {
  if (v === undefined) return "-";
  if (typeof v !== "boolean") fail(where, `expected true or false, got ${JSON.stringify(v)}`);
  return v ? "1" : "0";
}

function match(where: string, v: unknown, re: RegExp, what: string): string {
  if (typeof v !== "string" || !re.test(v)) fail(where, `${JSON.stringify(v)} is not a valid ${what}`);
  return v;
}

function groupLine(pfIndex: number, pf: PfState, g: VfGroup, where: string): string {
  const first = uint(`${where}.first`, g.first, MAX_TOTAL_VFS);
  const last = uint(`${where}.last`, g.last, MAX_TOTAL_VFS);
  if (first > last || last >= pf.numVfs) {
    fail(where, `VF range ${first}-${last} must lie within 0-${pf.numVfs - 1} (numVfs ${pf.numVfs})`);
  }
  if (g.driver !== "vfio-pci" && g.driver !== "netdevice") {
    fail(`${where}.driver`, `${JSON.stringify(g.driver)} is not "vfio-pci" or "netdevice"`);
  }
  if (g.qos !== undefined && g.vlan === undefined) fail(`${where}.qos`, "qos needs a vlan (ip link ... vlan V qos Q)");
  if (g.minTxRate !== undefined && g.maxTxRate !== undefined && g.maxTxRate > 0 && g.minTxRate > g.maxTxRate) {
    fail(where, `minTxRate ${g.minTxRate} exceeds maxTxRate ${g.maxTxRate}`);
  }
  if (g.linkState !== undefined && !["auto", "enable", "disable"].includes(g.linkState)) {
    fail(`${where}.linkState`, `${JSON.stringify(g.linkState)} is not auto, enable or disable`);
  }
  return stateLine("group", {
    pf: pfIndex,
    first,
    last,
    driver: g.driver,
    pool: match(`${where}.pool`, g.pool, POOL, "pool name"),
    trust: optFlag(`${where}.trust`, g.trust),
    spoofchk: optFlag(`${where}.spoofchk`, g.spoofchk),
    vlan: optUint(`${where}.vlan`, g.vlan, 4094),
    qos: optUint(`${where}.qos`, g.qos, 7),
    minTxRate: optUint(`${where}.minTxRate`, g.minTxRate, 1_000_000),
    maxTxRate: optUint(`${where}.maxTxRate`, g.maxTxRate, 1_000_000),
    linkState: g.linkState ?? "-",
  });
}

/**
 * The desired state as lines bash reads with `while read -r`. Every token is checked
 * against a strict pattern first, so nothing in the stack config can reach a shell as
 * anything but a plain word. Throws on invalid state, naming the field.
 */
export function renderStateLines(state: NodeState): string {
  if (state.schema !== 1) fail("schema", `unsupported schema ${JSON.stringify(state.schema)}`);
  const node = match("node", state.node, NODE_NAME, "Kubernetes node name");
  if (typeof state.allowDisruption !== "boolean") fail("allowDisruption", "expected true or false");
  const k = state.kernel;
  if (!k || (k.iommu !== "intel" && k.iommu !== "amd")) fail("kernel.iommu", 'expected "intel" or "amd"');
  if (typeof k.writeBootloader !== "boolean") fail("kernel.writeBootloader", "expected true or false");
  const owner = match(
    "owner",
    state.owner ?? defaultOwner(node),
    OWNER,
    "owner (<project>/<stack>/<node>, letters, digits, '_', '.', '-')",
  );
  const id = state.identity ?? {};
  const hostname =
    id.hostname === undefined
      ? "-"
      : match("identity.hostname", id.hostname, NODE_NAME, "hostname (lowercase RFC 1123)");
  const machineId =
    id.machineId === undefined
      ? "-"
      : match("identity.machineId", id.machineId, MACHINE_ID, "machine-id (32 lowercase hex digits)");
  const lines = [
    stateLine("schema", { version: 1 }),
    stateLine("node", { node }),
    stateLine("owner", { owner }),
    stateLine("identity", { hostname, machineId }),
    stateLine("allow_disruption", { allowDisruption: state.allowDisruption ? 1 : 0 }),
    stateLine("kernel", {
      iommu: k.iommu,
      hugepages1G: uint("kernel.hugepages1G", k.hugepages1G, 1_000_000),
      hugepages2M: uint("kernel.hugepages2M", k.hugepages2M, 100_000_000),
      writeBootloader: k.writeBootloader ? 1 : 0,
    }),
  ];
  if (!Array.isArray(state.pfs)) fail("pfs", "expected a list");
  const seen = new Set<string>();
  const groups: string[] = [];
  if (state.profile !== undefined) {
    lines.push(stateLine("profile", { profile: match("profile", state.profile, PROFILE, "profile name") }));
  }
  state.pfs.forEach((pf, i) => {
    const where = `pfs[${i}]`;
    if (pf.selector !== undefined) {
      if (pf.name !== undefined || pf.pciAddress !== undefined) fail(where, "has a selector and a name or pciAddress");
      lines.push(selectLine(pf, where));
    } else if (pf.name === undefined && pf.pciAddress === undefined)
      fail(where, "needs a name, a pciAddress or a selector");
    const name = pf.name === undefined ? "-" : match(`${where}.name`, pf.name, IFNAME, "interface name");
    const bdf =
      pf.pciAddress === undefined
        ? "-"
        : match(`${where}.pciAddress`, pf.pciAddress, BDF, "PCI address (0000:02:00.0)");
    for (const key of [name, bdf]) {
      if (key === "-") continue;
      if (seen.has(key)) fail(where, `${key} is listed twice`);
      seen.add(key);
    }
    const numVfs = uint(`${where}.numVfs`, pf.numVfs, MAX_TOTAL_VFS);
    if (pf.selector === undefined) {
      lines.push(stateLine("pf", { name, pciAddress: bdf, numVfs, mtu: optUint(`${where}.mtu`, pf.mtu, 65535) }));
    }
    if (pf.mtu !== undefined && pf.mtu < 68) fail(`${where}.mtu`, "must be at least 68");
    if (!Array.isArray(pf.vfGroups)) fail(`${where}.vfGroups`, "expected a list");
    const taken: [number, number][] = [];
    pf.vfGroups.forEach((g, j) => {
      const gw = `${where}.vfGroups[${j}]`;
      const line = groupLine(i, pf, g, gw);
      for (const [a, b] of taken) {
        if (g.first <= b && a <= g.last) fail(gw, `VF range ${g.first}-${g.last} overlaps ${a}-${b}`);
      }
      taken.push([g.first, g.last]);
      groups.push(line);
    });
  });
  return [...lines, ...groups, stateLine("end", {})].join("\n") + "\n";
}

/** The `select` line of a PF entry given by a NIC selector. */
function selectLine(pf: PfState, where: string): string {
  const s = pf.selector as PfSelector;
  const w = `${where}.selector`;
  const vendor =
    s.vendor === undefined ? "-" : match(`${w}.vendor`, s.vendor, PCI_ID, "PCI vendor ID (4 lowercase hex digits)");
  const device =
    s.device === undefined ? "-" : match(`${w}.device`, s.device, PCI_ID, "PCI device ID (4 lowercase hex digits)");
  const pattern = s.pfName === undefined ? "-" : match(`${w}.pfName`, s.pfName, PF_PATTERN, "interface name pattern");
  if (vendor === "-" && device === "-" && pattern === "-") fail(w, "needs a vendor, a device or a pfName");
  const count = uint(`${w}.count`, s.count, 4096);
  if (count < 1) fail(`${w}.count`, "must be at least 1");
  return stateLine("select", {
    vendor,
    device,
    pattern,
    port: optUint(`${w}.port`, s.port, 255),
    count,
    numVfs: uint(`${where}.numVfs`, pf.numVfs, MAX_TOTAL_VFS),
    mtu: optUint(`${where}.mtu`, pf.mtu, 65535),
    where: match(`${w}.where`, s.where, WHERE, "config path"),
  });
}

/** The owner of a state rendered without one (tests, hand runs). */
export function defaultOwner(node: string): string {
  return `kubevirt-sriov/manual/${node}`;
}

let cachedScript: string | undefined;

/** The node script's text (read once). */
export function nodeScript(): string {
  cachedScript ??= fs.readFileSync(NODE_SCRIPT_PATH, "utf8");
  return cachedScript;
}

function base64Lines(data: string | Buffer): string {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  return (bytes.toString("base64").match(/.{1,76}/g) ?? []).join("\n");
}

let cachedPackedScript: Buffer | undefined;

/**
 * The script gzipped (level 9, no name or time in the header, so the bytes never change):
 * the apply command is stored in the state of every node and sent on every run, so a
 * quarter of the size matters at fleet scale.
 */
function packedScript(): Buffer {
  cachedPackedScript ??= gzipSync(Buffer.from(nodeScript(), "utf8"), { level: 9 });
  return cachedPackedScript;
}

function rootAssignments(opts: RemoteCommandOptions): string[] {
  const out: string[] = [];
  const roots: [keyof NodeRoots, string][] = [
    ["sysfs", "SYSFS_ROOT"],
    ["proc", "PROC_ROOT"],
    ["etc", "ETC_ROOT"],
    ["dev", "DEV_ROOT"],
  ];
  for (const [key, env] of roots) {
    const v = opts.roots?.[key];
    if (v !== undefined) out.push(`${env}=${match(`roots.${key}`, v, ROOT_PATH, "absolute path")}`);
  }
  if (opts.pathPrefix !== undefined) {
    out.push(`PATH=${match("pathPrefix", opts.pathPrefix, ROOT_PATH, "absolute path")}:$PATH`);
  }
  return out;
}

/**
 * The shell command a remote.Command runs: it carries the script and the state inline
 * (base64 in quoted here-documents, so no character of either is ever interpreted),
 * unpacks them into a private temp dir removed on exit, and runs one verb. It uses only
 * POSIX sh, base64, gzip and mktemp, so it works whatever the login shell. Deterministic:
 * the same state always gives the same string, so Pulumi sees no diff and runs nothing.
 */
export function renderRemoteCommand(verb: NodeVerb, state: NodeState, opts: RemoteCommandOptions = {}): string {
  return wrapCommand(renderBody(verb, state, opts));
}

/** sh -c '<body>', refused when it would not fit in one exec argument. */
function wrapCommand(body: string): string {
  const command = `sh -c '${body}\n'`;
  if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
    throw new Error(
      `node command is ${Buffer.byteLength(command)} bytes, over the ${MAX_COMMAND_BYTES}-byte limit of one exec argument`,
    );
  }
  return command;
}

/** The node's /etc as a shell word part: the inline root, else $ETC_ROOT (the lab's sshd sets it), else /etc. */
function etcRoot(opts: RemoteCommandOptions): string {
  return opts.roots?.etc === undefined
    ? "${ETC_ROOT:-/etc}"
    : match("roots.etc", opts.roots.etc, ROOT_PATH, "absolute path");
}

/**
 * The command that reverts a node with the copy of the script its apply installed, given
 * only the desired state (a few hundred bytes, where the apply command carries the whole
 * script). Apply installs that copy before its first write to the host, and only the revert
 * of the host's last owner removes it, so a host with anything of ours on it (a half-applied
 * one included) has it. Without the copy, a host that has no kubevirt-sriov file either was
 * never touched: nothing to revert. One that has some but no copy (another owner's apply
 * between taking the lock and installing it, or a hand-made mess) is refused with exit 3.
 */
export function renderRevertCommand(state: NodeState, opts: RemoteCommandOptions = {}): string {
  const stateLines = renderStateLines(state);
  const env = rootAssignments(opts);
  const runner = opts.sudo ? ["sudo", "-n", "env", ...env] : env;
  const etc = etcRoot(opts);
  const ours = [
    `"${etc}/kubevirt-sriov"`,
    `"${etc}/systemd/system/kubevirt-sriov-vfs.service"`,
    `"${etc}/default/grub.d/kubevirt-sriov.cfg"`,
  ];
  const body = [
    "set -eu",
    `s="${etc}/kubevirt-sriov/sriov-node.sh"`,
    'if [ ! -f "$s" ]; then',
    `if ${ours.map((f) => `[ -e ${f} ]`).join(" || ")}; then`,
    'echo "sriov-node: error: this host has kubevirt-sriov files but no $s to revert with; cure: re-run pulumi up (apply installs it), or re-run the destroy if another run was installing it" >&2',
    "exit 3",
    "fi",
    'echo "sriov-node: revert: nothing to revert (this node was never prepared by kubevirt-sriov)" >&2',
    "exit 0",
    "fi",
    "umask 077",
    'd=$(mktemp -d "${TMPDIR:-/tmp}/kubevirt-sriov.XXXXXX")',
    'trap "rm -rf -- \\"$d\\"" EXIT',
    'base64 -d >"$d/state" <<"KUBEVIRT_SRIOV_STATE"',
    base64Lines(stateLines),
    "KUBEVIRT_SRIOV_STATE",
    [...runner, "bash", '"$s"', "revert", '<"$d/state"'].join(" "),
  ].join("\n");
  return wrapCommand(body);
}

function renderBody(verb: NodeVerb, state: NodeState, opts: RemoteCommandOptions): string {
  if (!["apply", "revert", "discover"].includes(verb)) throw new Error(`unknown verb ${JSON.stringify(verb)}`);
  const stateLines = renderStateLines(state);
  const env = rootAssignments(opts);
  const runner = opts.sudo ? ["sudo", "-n", "env", ...env] : env;
  const run = [...runner, "bash", '"$d/sriov-node.sh"', verb, '<"$d/state"'].join(" ");
  // No single quote anywhere below, so the whole thing can be wrapped in sh -c '...'.
  const body = [
    "set -eu",
    "umask 077",
    'd=$(mktemp -d "${TMPDIR:-/tmp}/kubevirt-sriov.XXXXXX")',
    'trap "rm -rf -- \\"$d\\"" EXIT',
    'base64 -d <<"KUBEVIRT_SRIOV_SCRIPT" | gzip -dc >"$d/sriov-node.sh"',
    base64Lines(packedScript()),
    "KUBEVIRT_SRIOV_SCRIPT",
    'base64 -d >"$d/state" <<"KUBEVIRT_SRIOV_STATE"',
    base64Lines(stateLines),
    "KUBEVIRT_SRIOV_STATE",
    run,
  ].join("\n");
  return body;
}
