// Node profiles and node groups. A stack file may give what the nodes of one hardware layout
// share once (`profiles`), and list nodes compactly (`each` with name and host patterns, or a
// `hosts` map). Before the schema reads the config, every such entry is expanded here into the
// one per-node form (`node` in schema.ts) the rest of the program knows. Each expanded node
// remembers where its parts were written, so a problem found later is reported where the user
// can fix it: `profiles.r740.physicalFunctions[0]`, `nodes[3].hosts["r740-017"]`.
import type { z } from "zod";
import { ConfigProblem, PathSegment } from "./errors";
import { LIMITS, nodeGroup } from "./schema";

/** Where an expanded node was written. */
export interface NodeSource {
  /** Index of its entry in the stack file's `nodes`. */
  entry: number;
  /** The profile it takes its settings from. */
  profile?: string;
  /** A node of a group entry: how the entry names it. */
  member?: { form: "each" | "hosts"; name: string };
  /** Keys it takes from the profile: top-level ("physicalFunctions") or one level down ("ssh.user"). */
  fromProfile: ReadonlySet<string>;
}

export interface Expansion {
  /** The config with `nodes` expanded: what the schema parses. */
  raw: unknown;
  /** Per expanded node (same index as `nodes` in `raw`). */
  sources: NodeSource[];
  /** Problems with profiles and entries themselves (unknown profile, bad pattern, ...). */
  problems: ConfigProblem[];
  /** The schema's issues with the keys that make an entry a group (nodeGroup), at their paths. */
  issues: z.core.$ZodIssue[];
}

/** Keys of a node entry that only say how to expand it. */
const GROUP_KEYS = ["profile", "each", "hosts", "hostKeys"] as const;
/** Maps a node entry merges key by key with its profile's (everything else is replaced whole). */
const MERGED = new Set(["ssh", "labels", "capacity", "bootHugepages"]);
/** Keys that name one host, with where they belong instead. */
const PER_HOST: Record<string, string> = {
  name: "each node entry's name (or a group's each/hosts)",
  identity: "the node entry of that one host",
  decommissioned: "the node entry of that node",
};
const PER_HOST_SSH: Record<string, string> = {
  host: "each node entry (ssh.host, or a group's each/hosts)",
  hostKey: "each node entry (ssh.hostKey, or a group's hostKeys)",
};
const PLACEHOLDER = /\{i(?:([+-])(\d{1,6}))?(?::([1-9]))?\}/g;

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Expands every node entry that names a profile or stands for many nodes. A config without
 * profiles and groups comes back as it is, each node its own source.
 */
export function expandNodes(raw: unknown): Expansion {
  const problems: ConfigProblem[] = [];
  const issues: z.core.$ZodIssue[] = [];
  if (!isMap(raw) || !Array.isArray(raw.nodes)) return { raw, sources: [], problems, issues };
  const profiles = isMap(raw.profiles) ? raw.profiles : {};
  const entries = raw.nodes as unknown[];
  const plain = (e: unknown) => !isMap(e) || GROUP_KEYS.every((k) => !(k in e));
  if (raw.profiles === undefined && entries.every(plain)) {
    return { raw, sources: entries.map((_, entry) => ({ entry, fromProfile: new Set<string>() })), problems, issues };
  }

  const usable = new Map<string, Json>();
  for (const [name, profile] of Object.entries(profiles)) {
    if (!isMap(profile)) continue; // the schema says what a profile must be
    usable.set(name, withoutPerHostKeys(name, profile, problems));
  }

  const nodes: unknown[] = [];
  const sources: NodeSource[] = [];
  entries.forEach((entry, i) => {
    if (plain(entry)) {
      nodes.push(entry);
      sources.push({ entry: i, fromProfile: new Set() });
      return;
    }
    for (const member of expandEntry(entry as Json, i, usable, problems, issues)) {
      nodes.push(member.node);
      sources.push(member.source);
    }
  });
  const out: Json = { ...raw, nodes };
  // The schema sees the profiles without the per-host keys reported here already.
  if (isMap(raw.profiles))
    out.profiles = Object.fromEntries(Object.entries(raw.profiles).map(([n, p]) => [n, usable.get(n) ?? p]));
  return { raw: out, sources, problems, issues };
}

function withoutPerHostKeys(name: string, profile: Json, problems: ConfigProblem[]): Json {
  const out: Json = { ...profile };
  for (const [key, where] of Object.entries(PER_HOST)) {
    if (!(key in out)) continue;
    problems.push({
      path: ["profiles", name, key],
      problem: `a profile holds what its nodes share, and ${key} is per node`,
      fix: `give it in ${where}, not in profile "${name}"`,
    });
    delete out[key];
  }
  for (const key of GROUP_KEYS) {
    if (!(key in out)) continue;
    problems.push({
      path: ["profiles", name, key],
      problem: `a profile cannot use ${key}: profiles do not nest, and nodes are listed under nodes`,
      fix: `remove ${key} from profile "${name}"`,
    });
    delete out[key];
  }
  if (isMap(out.ssh)) {
    const ssh: Json = { ...out.ssh };
    for (const [key, where] of Object.entries(PER_HOST_SSH)) {
      if (!(key in ssh)) continue;
      problems.push({
        path: ["profiles", name, "ssh", key],
        problem: `a profile holds what its nodes share, and ssh.${key} is per host`,
        fix: `give it in ${where}, not in profile "${name}"`,
      });
      delete ssh[key];
    }
    out.ssh = ssh;
  }
  return out;
}

interface Member {
  node: Json;
  source: NodeSource;
}

function expandEntry(
  entry: Json,
  i: number,
  profiles: Map<string, Json>,
  problems: ConfigProblem[],
  issues: z.core.$ZodIssue[],
): Member[] {
  const at: PathSegment[] = ["nodes", i];
  const form = nodeGroup.safeParse(entry, { reportInput: true });
  if (!form.success) {
    for (const issue of form.error.issues) issues.push({ ...issue, path: [...at, ...issue.path] });
    return [];
  }
  const g = form.data;
  let profile: Json = {};
  if (g.profile !== undefined) {
    const found = profiles.get(g.profile);
    if (found === undefined) {
      const known = [...profiles.keys()];
      problems.push({
        path: [...at, "profile"],
        problem: `unknown profile "${g.profile}"`,
        fix:
          known.length > 0
            ? `use one of the profiles: ${known.join(", ")}`
            : "define it under profiles (see stacks/Pulumi.example.yaml)",
      });
      return [];
    }
    profile = found;
  }
  const own: Json = { ...entry };
  for (const k of GROUP_KEYS) delete own[k];
  const ssh = isMap(own.ssh) ? own.ssh : {};

  const forms = [g.each !== undefined ? "each" : undefined, g.hosts !== undefined ? "hosts" : undefined].filter(
    (x) => x !== undefined,
  );
  if (forms.length > 1) {
    problems.push({
      path: at,
      problem: "a node entry uses both each and hosts",
      fix: "keep one: each with name and ssh.host patterns, or a hosts map of node name to host",
    });
    return [];
  }
  if (forms.length === 0) {
    if (g.hostKeys !== undefined) {
      problems.push({
        path: [...at, "hostKeys"],
        problem: "hostKeys is for entries with each or hosts",
        fix: "pin this node's key in ssh.hostKey",
      });
      return [];
    }
    return [member(profile, own, { entry: i, profile: g.profile })];
  }
  if ("identity" in own) {
    problems.push({
      path: [...at, "identity"],
      problem: "identity names one host, and this entry stands for many nodes",
      fix: "give the node that needs it an entry of its own (with profile, name and ssh.host)",
    });
    return [];
  }

  let names: [string, string][];
  if (g.hosts !== undefined) {
    if ("name" in own || "host" in ssh) {
      problems.push({
        path: [...at, "name" in own ? "name" : "ssh"],
        problem: "with hosts, each node's name and SSH host come from the hosts map",
        fix: "remove name and ssh.host from this entry",
      });
      return [];
    }
    names = Object.entries(g.hosts);
    if (names.length === 0) {
      problems.push({
        path: [...at, "hosts"],
        problem: "lists no node",
        fix: "add node name: host pairs, like r740-001: 10.1.0.1, or remove the entry",
      });
      return [];
    }
  } else {
    const expanded = patternMembers(g.each as string, own.name, ssh.host, at, problems);
    if (expanded === undefined) return [];
    names = expanded;
  }
  if (names.length > LIMITS.nodesPerEntry) {
    problems.push({
      path: [...at, g.hosts !== undefined ? "hosts" : "each"],
      problem: `stands for ${names.length} nodes, more than the ${LIMITS.nodesPerEntry} one entry may`,
      fix: "split it into several entries",
    });
    return [];
  }
  const memberNames = new Set(names.map(([n]) => n));
  for (const k of Object.keys(g.hostKeys ?? {})) {
    if (!memberNames.has(k)) {
      problems.push({
        path: [...at, "hostKeys", k],
        problem: `"${k}" is not a node of this entry`,
        fix: "pin keys only for the nodes this entry lists (check the name's spelling and the each range)",
      });
    }
  }
  const formName = g.hosts !== undefined ? "hosts" : "each";
  return names.map(([name, host]) => {
    const mine: Json = { ...own, name, ssh: { ...ssh, host } };
    const key = g.hostKeys?.[name];
    if (key !== undefined) (mine.ssh as Json).hostKey = key;
    return member(profile, mine, { entry: i, profile: g.profile, member: { form: formName, name } });
  });
}

/** A node from its profile and its own keys: its keys win; ssh, labels, capacity and bootHugepages merge key by key. */
function member(profile: Json, own: Json, where: Omit<NodeSource, "fromProfile">): Member {
  const node: Json = {};
  const fromProfile = new Set<string>();
  for (const [key, value] of Object.entries(profile)) {
    if (!(key in own)) {
      node[key] = value;
      fromProfile.add(key);
    } else if (MERGED.has(key) && isMap(value) && isMap(own[key])) {
      node[key] = { ...value, ...(own[key] as Json) };
      for (const sub of Object.keys(value)) if (!(sub in (own[key] as Json))) fromProfile.add(`${key}.${sub}`);
    }
  }
  for (const [key, value] of Object.entries(own)) if (!(key in node)) node[key] = value;
  return { node, source: { ...where, fromProfile } };
}

/** The nodes of an `each` entry: [name, host] per number. */
function patternMembers(
  each: string,
  name: unknown,
  host: unknown,
  at: PathSegment[],
  problems: ConfigProblem[],
): [string, string][] | undefined {
  const before = problems.length;
  if (typeof name !== "string" || !hasPlaceholder(name)) {
    problems.push({
      path: [...at, "name"],
      problem:
        typeof name === "string"
          ? `"${name}" has no {i}, so every node of the entry would get the same name`
          : "an entry with each needs a name pattern",
      fix: "write the node name with the number in it, like r740-{i:3} (r740-001, r740-002, ...)",
    });
  }
  if (typeof host !== "string" || !hasPlaceholder(host)) {
    problems.push({
      path: [...at, "ssh", "host"],
      problem:
        typeof host === "string"
          ? `"${host}" has no {i}, so every node of the entry would dial the same host`
          : "an entry with each needs an ssh.host pattern",
      fix: "write the host with the number in it, like r740-{i:3}.dc1.example.com or 10.1.0.{i} (10.1.1.{i-250} for the next 250)",
    });
  }
  const numbers = indexes(each);
  if (typeof numbers === "string")
    problems.push({
      path: [...at, "each"],
      problem: numbers,
      fix: "write ascending ranges like 1-480 or 1-240,301-540",
    });
  if (problems.length > before || typeof numbers === "string") return undefined;
  const out: [string, string][] = [];
  for (const n of numbers) {
    const nodeName = substitute(name as string, n);
    const nodeHost = substitute(host as string, n);
    for (const [value, key] of [
      [nodeName, "name"],
      [nodeHost, "ssh"],
    ] as const) {
      if (value.startsWith("!")) {
        problems.push({
          path: key === "name" ? [...at, "name"] : [...at, "ssh", "host"],
          problem: `${value.slice(1)} for i=${n}`,
          fix: "keep every number it produces at 0 or more (check the each range against {i-K})",
        });
        return undefined;
      }
    }
    out.push([nodeName, nodeHost]);
  }
  return out;
}

function hasPlaceholder(pattern: string): boolean {
  return new RegExp(PLACEHOLDER.source).test(pattern);
}

/** "1-3,7" → [1, 2, 3, 7]; a message when it is not ascending or too long. */
function indexes(text: string): number[] | string {
  const out: number[] = [];
  for (const part of text.split(",")) {
    const [a, b] = part.split("-");
    const first = Number(a);
    const last = b === undefined ? first : Number(b);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last)) return `"${part}" is not a number or a range`;
    if (last < first) return `range "${part}" runs backwards`;
    if (out.length > 0 && first <= out[out.length - 1]) return `"${part}" repeats or goes below an earlier number`;
    if (out.length + last - first + 1 > LIMITS.nodesPerEntry)
      return `stands for more than the ${LIMITS.nodesPerEntry} nodes one entry may`;
    for (let n = first; n <= last; n++) out.push(n);
  }
  return out;
}

/** The pattern with every {i...} replaced for number n; "!<problem>" when a number falls below 0. */
function substitute(pattern: string, n: number): string {
  let problem: string | undefined;
  const out = pattern.replace(
    PLACEHOLDER,
    (_m, sign: string | undefined, offset: string | undefined, width: string | undefined) => {
      const v = n + (sign === "-" ? -Number(offset) : sign === "+" ? Number(offset) : 0);
      if (v < 0) problem ??= `{i${sign ?? ""}${offset ?? ""}} is ${v}`;
      return String(v).padStart(width === undefined ? 0 : Number(width), "0");
    },
  );
  return problem !== undefined ? `!${problem}` : out;
}

/**
 * Where a problem found in the expanded config was written. `nodes[k]...` of the k-th expanded
 * node becomes its entry's path, a profile's path for what the node takes from its profile, or
 * the group's `hosts`/`hostKeys` key of that node. Other paths are returned as they are.
 */
export function sourcePath(sources: readonly NodeSource[], path: readonly PathSegment[]): PathSegment[] {
  if (path[0] !== "nodes" || typeof path[1] !== "number" || sources[path[1]] === undefined) return [...path];
  const s = sources[path[1]];
  const rest = path.slice(2);
  const entry: PathSegment[] = ["nodes", s.entry];
  const [key, sub] = rest;
  if (s.member !== undefined) {
    const { form, name } = s.member;
    if (key === "name") return form === "hosts" ? [...entry, "hosts", name] : [...entry, "name"];
    if (key === "ssh" && sub === "host")
      return form === "hosts" ? [...entry, "hosts", name] : [...entry, "ssh", "host"];
    if (key === "ssh" && sub === "hostKey") return [...entry, "hostKeys", name];
  }
  // What a profile cannot hold is the entry's to give, even where the entry took the whole map.
  const perHost = key === "ssh" ? sub === "host" || sub === "hostKey" : key !== undefined && String(key) in PER_HOST;
  if (
    s.profile !== undefined &&
    key !== undefined &&
    !perHost &&
    (s.fromProfile.has(String(key)) || (sub !== undefined && s.fromProfile.has(`${key}.${sub}`)))
  ) {
    return ["profiles", s.profile, ...rest];
  }
  return [...entry, ...rest];
}

/** Problems shown at one path; past this, they are counted (a pattern wrong for 480 nodes is one mistake). */
const MAX_PER_PATH = 3;

/**
 * The problems at the paths where they were written, each once (a profile's problem is every
 * one of its nodes'): `found` at paths of the expanded config, `located` at stack-file paths.
 */
export function locateProblems(
  sources: readonly NodeSource[],
  found: readonly ConfigProblem[],
  located: readonly ConfigProblem[] = [],
): ConfigProblem[] {
  const seen = new Set<string>();
  const perPath = new Map<string, number>();
  const out: ConfigProblem[] = [];
  const add = (p: ConfigProblem, path: PathSegment[]) => {
    const at = JSON.stringify(path);
    const key = `${at}\u0000${p.problem}\u0000${p.fix}`;
    if (seen.has(key)) return;
    seen.add(key);
    const n = (perPath.get(at) ?? 0) + 1;
    perPath.set(at, n);
    if (n <= MAX_PER_PATH) out.push({ ...p, path });
  };
  for (const p of located) add(p, p.path);
  for (const p of found) add(p, sourcePath(sources, p.path));
  for (const [at, n] of perPath) {
    if (n <= MAX_PER_PATH) continue;
    out.push({
      path: JSON.parse(at) as PathSegment[],
      problem: `and ${n - MAX_PER_PATH} more problems like those above, one for each node the entry stands for`,
      fix: "fix the entry's pattern or values as those messages say",
    });
  }
  return out;
}
