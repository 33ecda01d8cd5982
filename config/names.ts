// Names of child resources. Pulumi tells resources apart by URN (the parent's type chain, the
// type and the name), so two children of one type under one parent must never share a name.
//
// A child name is its parent's name and fixed words joined with "-", as names have always
// been, then, last, the key: the parts of config entries that tell instances of one kind apart,
// joined with "/". Key parts are Kubernetes names (namespaces, NAD and VM names are RFC 1123
// labels, node names RFC 1123 subdomains: config/schema.ts), and none of them can contain "/",
// so two different keys never give one name. Joined with "-" they could: networks
// `voip-a/media` and `voip/a-media` both became `<stack>-net-voip-a-media`.
import type { ConfigProblem, PathSegment } from "./errors";
import type { PlatformConfig } from "./schema";

/** Between the parts of a key; no Kubernetes name contains it (URNs allow it in names). */
export const KEY_SEPARATOR = "/";

/** Fixed words, optionally followed (last) by a key of config parts. */
export type NameParts = [...words: string[], key: readonly string[]] | string[];

function split(parts: NameParts): { words: string[]; key: readonly string[] } {
  const last = parts[parts.length - 1];
  const words = (Array.isArray(last) ? parts.slice(0, -1) : parts) as unknown[];
  if (words.some((w) => typeof w !== "string")) {
    throw new Error(`a child name's key must come last: ${JSON.stringify(parts)}`);
  }
  return { words: words as string[], key: Array.isArray(last) ? last : [] };
}

/**
 * The name of a child of `parent`: `childName("s", "sa")` is `s-sa`, `childName("s-net",
 * ["voip", "media"])` is `s-net-voip/media`. Every component names every child with it.
 */
export function childName(parent: string, ...parts: NameParts): string {
  const { words, key } = split(parts);
  for (const k of key) {
    if (k === "" || k.includes(KEY_SEPARATOR)) {
      const why = `must be non-empty and free of "${KEY_SEPARATOR}"`;
      throw new Error(`child of ${parent}: key part ${JSON.stringify(k)} ${why}`);
    }
  }
  const head = [parent, ...words].join("-");
  return key.length === 0 ? head : `${head}-${key.join(KEY_SEPARATOR)}`;
}

/**
 * The name the same child had before keys were joined with "/" (everything joined with "-"):
 * a renamed resource lists it in `aliases`, so a running stack updates it in place.
 */
export function previousChildName(parent: string, ...parts: NameParts): string {
  const { words, key } = split(parts);
  return [parent, ...words, ...key].join("-");
}

/**
 * `aliases` for a resource whose name changed from `before` to `now`: none when it did not
 * (an alias of the resource's own URN would only confuse the engine).
 */
export function renamedFrom(before: string, now: string): { name: string }[] {
  return before === now ? [] : [{ name: before }];
}

/**
 * The names a component was known by before (its `aliases` that give a name): a child named
 * after the component lists its name under each of them, since a parent's alias does not rename
 * its children.
 */
export function aliasNames(aliases: readonly unknown[] | undefined): string[] {
  return (aliases ?? []).flatMap((a) => {
    const name = typeof a === "object" && a !== null ? (a as { name?: unknown }).name : undefined;
    return typeof name === "string" ? [name] : [];
  });
}

/**
 * The children whose names carry config entries' keys, one function per kind: the components
 * name them with these, and the collision check below reads the same functions.
 */
export const keyedChildName = {
  /** A network's NetworkAttachmentDefinition, under SriovNetworks. */
  nad: (networks: string, n: { namespace: string; name: string }) => childName(networks, [n.namespace, n.name]),
  /** A VM's VoipVm component, under the platform. */
  vm: (platform: string, vm: { namespace: string; name: string }) => childName(platform, "vm", [vm.namespace, vm.name]),
  /** A node's SriovNodePrep component, under the platform. */
  nodePrep: (platform: string, node: string) => childName(platform, [node]),
  /** A node's label patch, under NodeLabels. */
  nodeLabels: (labels: string, node: string) => childName(labels, [node]),
  /** The record of a node's host key, and of its jump host's (local commands under the platform). */
  hostKey: (platform: string, node: string) => childName(platform, "hostkey", [node]),
  bastionHostKey: (platform: string, node: string) => childName(platform, "bastion-hostkey", [node]),
  /** The scan of a node's key from its jump host (a remote command under the platform). */
  hostKeyScan: (platform: string, node: string) => childName(platform, "hostkey-scan", [node]),
};

/** One config entry's child of some kind: where the entry is, how to call it, and the name. */
export interface NamedEntry {
  path: PathSegment[];
  /** The entry as a user recognises it: `network voip/media`. */
  entry: string;
  name: string;
}

/**
 * Pairs of different entries whose children (of one kind, under one parent) would get the same
 * name, which Pulumi refuses as a duplicate URN. Entries that are the same (a duplicate network,
 * node or VM) are not reported here: validation reports those as duplicates.
 */
export function nameCollisions(kind: string, entries: readonly NamedEntry[]): ConfigProblem[] {
  const first = new Map<string, NamedEntry>();
  const out: ConfigProblem[] = [];
  for (const e of entries) {
    const seen = first.get(e.name);
    if (seen === undefined) {
      first.set(e.name, e);
    } else if (seen.entry !== e.entry) {
      out.push({
        path: e.path,
        problem:
          `${e.entry} and ${seen.entry} would both be named "${e.name}" as a ${kind}, ` +
          "and Pulumi refuses two resources with one URN",
        fix: `rename one of the two (${e.entry} or ${seen.entry})`,
      });
    }
  }
  return out;
}

/** Stands for the parent's name in collision checks: every child of a kind shares the parent. */
const PARENT = "<stack>";

/** Every collision of child names the config would cause (see nameCollisions). */
export function childNameCollisions(cfg: Pick<PlatformConfig, "networks" | "vms" | "nodes">): ConfigProblem[] {
  const networks = cfg.networks.map((n, i) => ({
    path: ["networks", i, "name"],
    entry: `network ${n.namespace}/${n.name}`,
    name: keyedChildName.nad(`${PARENT}-net`, n),
  }));
  const vms = cfg.vms.map((vm, i) => ({
    path: ["vms", i, "name"],
    entry: `VM ${vm.namespace}/${vm.name}`,
    name: keyedChildName.vm(PARENT, vm),
  }));
  const node = (kind: (parent: string, node: string) => string, parent = PARENT) =>
    cfg.nodes.map((n, i) => ({ path: ["nodes", i, "name"], entry: `node ${n.name}`, name: kind(parent, n.name) }));
  return [
    ...nameCollisions("NetworkAttachmentDefinition", networks),
    ...nameCollisions("VoipVm", vms),
    ...nameCollisions("SriovNodePrep", node(keyedChildName.nodePrep)),
    ...nameCollisions("node label patch", node(keyedChildName.nodeLabels, `${PARENT}-labels`)),
    ...nameCollisions("host key record", [...node(keyedChildName.hostKey), ...node(keyedChildName.bastionHostKey)]),
    ...nameCollisions("host key scan", node(keyedChildName.hostKeyScan)),
  ];
}
