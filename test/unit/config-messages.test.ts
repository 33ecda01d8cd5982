// Every message a user can get from the schema is written for a person: it says what is wrong
// and how to fix it, and never shows zod's defaults or a raw regular expression. The test walks
// the whole schema, feeds invalid values to every string field and every map, and reads what
// the program would print for each.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type { z } from "zod";
import { formatProblem } from "../../config/errors";
import { platform } from "../../config/schema";
import { fromZodIssue } from "../../config/validate";

interface Leaf {
  path: string;
  schema: z.ZodType;
  kind: "string" | "record";
}

/** Every string field and every map of the schema, with its config path. */
function leaves(schema: z.ZodType, at: string, out: Leaf[] = []): Leaf[] {
  const def = (schema as unknown as { _zod: { def: Record<string, any> } })._zod.def;
  switch (def.type) {
    case "object":
      for (const [key, value] of Object.entries(def.shape as Record<string, z.ZodType>))
        leaves(value, `${at}.${key}`, out);
      break;
    case "array":
      leaves(def.element, `${at}[]`, out);
      break;
    case "optional":
    case "default":
    case "prefault":
    case "nullable":
    case "readonly":
    case "catch":
      leaves(def.innerType, at, out);
      break;
    case "pipe":
      leaves(def.in, at, out);
      leaves(def.out, at, out);
      break;
    case "union":
      for (const option of def.options as z.ZodType[]) leaves(option, at, out);
      break;
    case "record":
      out.push({ path: at, schema, kind: "record" });
      leaves(def.valueType, `${at}.<value>`, out);
      break;
    case "string":
      out.push({ path: at, schema, kind: "string" });
      break;
  }
  return out;
}

const BAD_STRINGS = [
  "",
  " ",
  "x y",
  "-",
  "_",
  "A",
  "é",
  "x".repeat(300),
  "a/b/c",
  "$(reboot)",
  "1.2.3.4:22",
  "0",
  "0Gi",
  ":latest",
  "a\nb",
  "ssh-ed25519",
];
const BAD_RECORDS: Record<string, unknown>[] = [
  { "bad key": "ok" },
  { "a/b/c": "ok" },
  { "-x": "ok" },
  { ["x".repeat(70)]: "ok" },
  { "": "ok" },
  { ok: "bad value" },
  { ok: "x".repeat(70) },
  { ok: 12 },
  { "kubevirt.io/x": "y" },
];

/** The issues zod raises for a value at a leaf. */
function issuesFor(leaf: Leaf, value: unknown): z.core.$ZodIssue[] {
  const result = leaf.schema.safeParse(value, { reportInput: true });
  return result.success ? [] : result.error.issues;
}

/** What the program prints for each issue of a value at a leaf. */
function messagesFor(leaf: Leaf, value: unknown): string[] {
  return issuesFor(leaf, value).map((issue) => formatProblem(leaf.path, { ...fromZodIssue(issue), path: [] }));
}

/** zod's own wording, and what a regular expression looks like when printed. */
const NOT_FOR_PEOPLE = [
  /must match pattern/i,
  /\bInvalid\b/,
  /Too (big|small): expected/,
  /\bExpected\b/,
  /\/\^/,
  /\$\//,
  /\[A-Za-z0-9/,
  /\\d/,
  /\(\?:/,
];

describe("config messages are written for people", () => {
  const all = leaves(platform as unknown as z.ZodType, "platform");

  it("walks every string field and map of the schema", () => {
    const paths = new Set(all.map((l) => l.path));
    assert.ok(all.filter((l) => l.kind === "string").length >= 40, `string fields: ${[...paths].join(", ")}`);
    for (const expected of [
      "platform.nodes[].ssh.host",
      "platform.nodes[].bastion.hostKey",
      "platform.nodes[].physicalFunctions[].name",
      "platform.nodes[].labels",
      "platform.pools[].prefix",
      "platform.networks[].ipam.subnet",
      "platform.vms[].image",
      "platform.vms[].memory",
      "platform.vms[].nodeSelector",
      "platform.images.multus",
      "platform.registryMirror",
      "platform.kubevirt.featureGates[]",
      "platform.kubevirt.infra.tolerations[].key",
      "platform.kubevirt.operatorManifest.url",
      "platform.ssh.privateKeySecret",
      "platform.vms[].loadgen.extension",
      "platform.vms[].guestUser",
    ]) {
      assert.ok(paths.has(expected), `the walk misses ${expected}`);
    }
  });

  it("no invalid string or map gets zod's default message or a raw regular expression", () => {
    const offending: string[] = [];
    for (const leaf of all) {
      const values = leaf.kind === "string" ? BAD_STRINGS : BAD_RECORDS;
      for (const value of values) {
        for (const message of messagesFor(leaf, value)) {
          if (NOT_FOR_PEOPLE.some((re) => re.test(message))) offending.push(message);
          // "<path>: <what is wrong> — <how to fix it>", both parts said.
          if (!/^\S+: \S.* — \S/.test(message)) offending.push(`(no problem or fix) ${message}`);
        }
      }
    }
    assert.deepEqual([...new Set(offending)].slice(0, 20), []);
  });

  it("no issue's message holds a fix after ' — ': the schema gives problem and fix apart", () => {
    const joined: string[] = [];
    for (const leaf of all) {
      for (const value of leaf.kind === "string" ? BAD_STRINGS : BAD_RECORDS) {
        for (const issue of issuesFor(leaf, value)) {
          if (issue.message.includes(" — ")) joined.push(`${leaf.path}: ${issue.message}`);
        }
      }
    }
    assert.deepEqual([...new Set(joined)].slice(0, 20), []);
  });

  it("every .regex( in the schema carries a message", () => {
    const source = fs.readFileSync(path.join(__dirname, "..", "..", "config", "schema.ts"), "utf8");
    const bare = [...source.matchAll(/\.regex\((\/(?:\\.|[^/\n])+\/[a-z]*)\s*\)/g)].map((m) => m[0]);
    assert.deepEqual(bare, [], "a .regex() without a message shows the pattern to the user");
  });
});
