// The two hand-kept formats between the program and node/sriov-node.sh: the desired-state lines
// (render/nodeState.ts STATE_LINE_FIELDS, read by the script's parse_state) and the JSON report
// (render/nodeReport.ts, printed by the script). Each check reads the script's text and lists what
// disagrees, in both directions, so a change on one side alone fails here; each is also run on a
// script edited to disagree, so the check itself is known to catch it.
import * as assert from "assert";
import { spawnSync } from "child_process";
import fc from "fast-check";
import { z } from "zod";
import { STATE_LINE_FIELDS, STATE_TOKEN_PATTERNS, nodeScript, renderStateLines } from "../../render/nodeState";
import { nodeReportSchema } from "../../render/nodeReport";
import { allOn, nodeState } from "../sim/states";

const table: Record<string, readonly string[]> = STATE_LINE_FIELDS;

/** The text of one top-level function of the script, from `name() {` to its closing `}`. */
function functionText(script: string, name: string): string {
  const m = new RegExp(`^${name}\\(\\) \\{[^\\n]*\\n[\\s\\S]*?^\\}$`, "m").exec(script);
  if (!m) throw new Error(`node/sriov-node.sh has no function ${name}`);
  return m[0];
}

/** keyword -> number of fields, from parse_state's `case $kw:${#a[@]} in` arms (words minus the keyword). */
function parsedLines(script: string): Map<string, number> {
  const body = functionText(script, "parse_state");
  const arms = /case \$kw:\$\{#a\[@\]\} in\n([\s\S]*?)\n\s*esac/.exec(body);
  if (!arms) throw new Error("parse_state has no `case $kw:${#a[@]} in` over the state's lines");
  const out = new Map<string, number>();
  for (const m of arms[1].matchAll(/^\s*([a-z_]+):(\d+)\)/gm)) out.set(m[1], Number(m[2]) - 1);
  return out;
}

/** What parse_state reads and STATE_LINE_FIELDS says disagree on, one sentence each. */
function stateFormatMismatches(script: string): string[] {
  const parsed = parsedLines(script);
  const out: string[] = [];
  for (const [kw, fields] of Object.entries(table)) {
    const n = parsed.get(kw);
    if (n === undefined) out.push(`${kw}: rendered, but parse_state has no arm for it`);
    else if (n !== fields.length) out.push(`${kw}: rendered with ${fields.length} fields, parse_state reads ${n}`);
  }
  for (const kw of parsed.keys()) {
    if (!(kw in table)) out.push(`${kw}: parsed, but STATE_LINE_FIELDS has no such line`);
  }
  return out;
}

/** The `<field>` words a helper's comment names after `<line#> <line>`, e.g. parse_group's. */
function documentedFields(script: string, fn: string): string[] {
  const head = functionText(script, fn).split("\n")[0];
  const m = new RegExp(`# ${fn} <line#> <line> (.*)$`).exec(head);
  if (!m) throw new Error(`${fn}'s comment does not start with "${fn} <line#> <line>"`);
  return [...m[1].matchAll(/<([^>]+)>/g)].map((x) => x[1]);
}

/** resolve_selectors: the select fields it reads by position, and the words of the pf lines it writes. */
function selectorMismatches(script: string): string[] {
  const body = functionText(script, "resolve_selectors");
  const out: string[] = [];
  const reads = [...body.matchAll(/\b([a-z]+)=\$\{a\[(\d+)\]\}/g)];
  if (reads.length === 0) out.push("resolve_selectors reads no select field by position");
  for (const [, name, index] of reads) {
    const field = table.select[Number(index) - 1];
    if (field !== name) {
      out.push(`resolve_selectors reads ${name} from word ${index}, where select has ${field ?? "nothing"}`);
    }
  }
  const pfLines = [...body.matchAll(/lines\+=\("(pf [^"]*)"\)/g)].map((m) => m[1]);
  if (pfLines.length === 0) out.push("resolve_selectors writes no pf line");
  for (const line of pfLines) {
    const words = line.split(" ").length - 1;
    if (words !== table.pf.length) {
      out.push(`resolve_selectors writes pf lines of ${words} fields, pf has ${table.pf.length}`);
    }
  }
  return out;
}

/** The script's RE_<name>='<ERE>' constants. */
function scriptPatterns(script: string): Map<string, string> {
  return new Map([...script.matchAll(/^RE_([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
}

/** Word checks the renderer does by formatting a number or a flag, not by a pattern. */
const NUMERIC_PATTERNS = ["UINT", "OPT_UINT", "FLAG"];

/** For each word, whether bash's [[ $word =~ $re ]] holds (one bash for all words; none may hold a newline). */
function bashMatches(re: string, words: string[]): boolean[] {
  const loop = "while IFS= read -r w; do if [[ $w =~ $RE ]]; then echo 1; else echo 0; fi; done";
  const r = spawnSync("bash", ["-c", loop], {
    input: words.map((w) => `${w}\n`).join(""),
    env: { PATH: process.env.PATH, LC_ALL: "C", RE: re },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`bash failed: ${r.stderr}`);
  return r.stdout
    .trimEnd()
    .split("\n")
    .map((l) => l === "1");
}

/** A valid word per pattern, to mutate into near misses. */
const VALID_WORDS: Record<string, string[]> = {
  IFNAME: ["ens1f0", "enp0s31f6.100", "a234567890_12-4"],
  BDF: ["0000:3b:00.1", "ffff:ff:1f.7"],
  NODE: ["k8s-node1", "node-7.rack2.example.com", "a"],
  POOL: ["voice", "sig_1.a-B", "x".repeat(63)],
  OWNER: ["kubevirt-sriov/test/k8s-node1", "proj_1/prod.eu-1/n.example.com"],
  MACHINE_ID: ["0123456789abcdef0123456789abcdef"],
  PCI_ID: ["8086", "15b3"],
  PF_PATTERN: ["ens*", "enp[0-9]s0f?", "[e]th-1_a.b*"],
  PROFILE: ["r740", "gen-2", "a"],
  WHERE: ["profiles.r740.physicalFunctions[0]", 'profiles["gen-2"].physicalFunctions[1]'],
};

/** Printable ASCII: what a word in a state line could hold (no space or newline splits it further). */
const CHARS = [...Array(95).keys()].map((i) => String.fromCharCode(32 + i)).filter((c) => c !== " ");

/** Words near the valid ones (one or two characters inserted, dropped or replaced), long ones and random ones. */
function candidateWords(valid: string[]): fc.Arbitrary<string> {
  const char = fc.constantFrom(...CHARS);
  const how = fc.constantFrom("insert", "drop", "replace");
  const edit = ([w, at, c, h]: [string, number, string, string]): string => {
    const i = at % (w.length + 1);
    return w.slice(0, i) + (h === "drop" ? "" : c) + w.slice(h === "insert" ? i : i + 1);
  };
  const near = fc.tuple(fc.constantFrom(...valid), fc.nat(), char, how).map(edit);
  const nearer = fc.tuple(near, fc.nat(), char, how).map(edit);
  // Past the length limits (15, 63, 100 or 253 characters).
  const long = fc
    .tuple(fc.constantFrom(...valid), fc.integer({ min: 1, max: 300 }))
    .map(([w, n]) => w + w.at(-1)!.repeat(n));
  return fc.oneof(near, nearer, long, fc.string({ unit: char, maxLength: 40 }));
}

/** The part of a zod schema's definition that leads to its object keys. */
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
}

/** Every key of a zod schema's objects, nested ones included. */
function schemaKeys(schema: z.ZodType, into = new Set<string>()): Set<string> {
  const def = (schema as unknown as { def: SchemaDef }).def;
  if (def.type === "object") {
    for (const [k, v] of Object.entries(def.shape ?? {})) {
      into.add(k);
      schemaKeys(v, into);
    }
  } else if (def.element) schemaKeys(def.element, into);
  else if (def.innerType) schemaKeys(def.innerType, into);
  return into;
}

/** Keys only the revert report has: no program code parses it (the stack's delete only checks the exit code). */
const REVERT_ONLY_KEYS = ["revert", "restoredPfs"];

/** The JSON keys the script prints (`\"key\":` in its double-quoted strings) against render/nodeReport.ts. */
function reportMismatches(script: string): string[] {
  const printed = new Set([...script.matchAll(/\\"([A-Za-z]+)\\":/g)].map((m) => m[1]));
  const known = schemaKeys(nodeReportSchema);
  const out: string[] = [];
  for (const k of known) if (!printed.has(k)) out.push(`${k}: in the report schema, never printed by the script`);
  for (const k of printed) {
    if (known.has(k) || REVERT_ONLY_KEYS.includes(k)) continue;
    out.push(`${k}: printed by the script, not in the report schema`);
  }
  return out;
}

describe("nodeprep: the node script and the program agree on their formats", () => {
  const script = nodeScript();

  it("parse_state reads every keyword STATE_LINE_FIELDS has, with as many fields, and no other", () => {
    assert.deepStrictEqual(stateFormatMismatches(script), []);
    assert.ok(parsedLines(script).size >= 10, "the parse_state arms were found");
  });

  it("a script that reads a line with one field more, or a keyword the table lacks, is caught", () => {
    const edited = script.replace("group:13)", "group:14)").replace("end:1)", "finish:1)");
    assert.notStrictEqual(edited, script);
    assert.deepStrictEqual(stateFormatMismatches(edited), [
      "group: rendered with 12 fields, parse_state reads 13",
      "end: rendered, but parse_state has no arm for it",
      "finish: parsed, but STATE_LINE_FIELDS has no such line",
    ]);
  });

  it("parse_select and parse_group name their arguments as STATE_LINE_FIELDS names the fields, in order", () => {
    assert.deepStrictEqual(documentedFields(script, "parse_select"), [...table.select]);
    assert.deepStrictEqual(documentedFields(script, "parse_group"), [...table.group]);
    const swapped = script.replace("<minTxRate> <maxTxRate>", "<maxTxRate> <minTxRate>");
    assert.notDeepStrictEqual(documentedFields(swapped, "parse_group"), [...table.group]);
  });

  it("resolve_selectors reads each select field at its table position, writes pf lines of the table's length", () => {
    assert.deepStrictEqual(selectorMismatches(script), []);
    const edited = script
      .replace("count=${a[5]}", "count=${a[6]}")
      .replace('"pf - ${NIC_BDF[k]} ${a[6]} ${a[7]}"', '"pf ${NIC_BDF[k]} ${a[6]} ${a[7]}"');
    assert.deepStrictEqual(selectorMismatches(edited), [
      "resolve_selectors reads count from word 6, where select has numVfs",
      "resolve_selectors writes pf lines of 3 fields, pf has 4",
    ]);
  });

  it("renderStateLines writes every keyword of STATE_LINE_FIELDS, each line with the table's field count", () => {
    const text = renderStateLines(
      nodeState(
        [
          allOn("ens1f0", 4, "vfio-pci", { trust: true, vlan: 100, qos: 5 }),
          {
            selector: { vendor: "8086", count: 2, where: "profiles.r740.physicalFunctions[1]" },
            numVfs: 2,
            vfGroups: [{ first: 0, last: 1, driver: "netdevice", pool: "sig" }],
          },
        ],
        { profile: "r740", identity: { hostname: "k8s-node1" } },
      ),
    );
    const seen = new Set<string>();
    for (const line of text.trimEnd().split("\n")) {
      const [kw, ...fields] = line.split(" ");
      assert.ok(kw in table, `rendered keyword ${kw} is in the table`);
      assert.strictEqual(fields.length, table[kw].length, `fields of: ${line}`);
      seen.add(kw);
    }
    assert.deepStrictEqual([...seen].sort(), Object.keys(table).sort());
  });

  it("the script has a pattern for every word pattern of the renderer, and no other", () => {
    const script = [...scriptPatterns(nodeScript()).keys()].filter((k) => !NUMERIC_PATTERNS.includes(k)).sort();
    assert.deepStrictEqual(script, Object.keys(STATE_TOKEN_PATTERNS).sort());
    assert.deepStrictEqual(Object.keys(VALID_WORDS).sort(), script);
  });

  for (const [name, js] of Object.entries(STATE_TOKEN_PATTERNS)) {
    it(`RE_${name} in the script accepts exactly the words the renderer's ${name} pattern accepts`, () => {
      const ere = scriptPatterns(script).get(name);
      assert.ok(ere, `RE_${name} is in the script`);
      const words = [...VALID_WORDS[name], ...fc.sample(candidateWords(VALID_WORDS[name]), { numRuns: 600, seed: 15 })];
      const bash = bashMatches(ere, words);
      assert.strictEqual(bash.length, words.length);
      const differ = words.filter((w, i) => bash[i] !== js.test(w));
      assert.deepStrictEqual(
        differ.slice(0, 5).map((w) => `${JSON.stringify(w)}: bash says ${!js.test(w)}`),
        [],
      );
      assert.ok(words.some((w) => js.test(w)) && words.some((w) => !js.test(w)), "the sample has words of both kinds");
    });
  }

  it("a script pattern that accepts one character more than the renderer's is caught", () => {
    const loose = scriptPatterns(script).get("POOL")!.replace("_.-", "_.:-");
    const words = ["voice:1", "voice"];
    assert.deepStrictEqual(bashMatches(loose, words), [true, true]);
    assert.deepStrictEqual(
      words.map((w) => STATE_TOKEN_PATTERNS.POOL.test(w)),
      [false, true],
    );
  });

  it("the script prints every key of the report schema, and no other key but the revert report's", () => {
    assert.deepStrictEqual(reportMismatches(script), []);
    const edited = script.replace('\\"vfioReady\\":', '\\"vfioOk\\":');
    assert.deepStrictEqual(reportMismatches(edited), [
      "vfioReady: in the report schema, never printed by the script",
      "vfioOk: printed by the script, not in the report schema",
    ]);
  });
});
