// A running stack keeps its resources across program changes only if their URNs stay the same
// or are aliased: each shipped stack's URNs are recorded in test/fixtures/urns/<stack>.json
// (regenerate deliberately: see test/harness/urns.ts) and compared with what the program
// registers now.
import { strict as assert } from "assert";
import * as fs from "fs";
import { loadStackConfig } from "../harness/stacks";
import { RegisteredUrn, registeredUrns, SHIPPED_STACKS, stackUrns, urnFixture, urnRequest } from "../harness/urns";

/** Recorded URNs the registered resources do not answer to, and registered ones nothing recorded maps to. */
export function urnDrift(
  recorded: readonly string[],
  registered: readonly RegisteredUrn[],
): { lost: string[]; added: string[]; ambiguous: string[] } {
  const now = new Set(registered.map((r) => r.urn));
  const aliasedBy = new Map<string, string[]>();
  for (const r of registered) for (const a of r.aliases) aliasedBy.set(a, [...(aliasedBy.get(a) ?? []), r.urn]);
  const kept = new Set(recorded);
  const lost: string[] = [];
  const ambiguous: string[] = [];
  const matched = new Set<string>();
  for (const urn of recorded) {
    if (now.has(urn)) {
      matched.add(urn);
      continue;
    }
    const by = aliasedBy.get(urn) ?? [];
    if (by.length === 0) lost.push(urn);
    else if (by.length > 1) ambiguous.push(`${urn} ← ${by.join(", ")}`);
    else matched.add(by[0]);
  }
  const added = registered.filter((r) => !kept.has(r.urn) && !matched.has(r.urn)).map((r) => r.urn);
  return { lost, added, ambiguous };
}

function duplicates(urns: readonly string[]): string[] {
  return urns.filter((u, i) => urns.indexOf(u) !== i);
}

describe("URNs of the shipped stacks stay stable (existing stacks update in place)", function () {
  this.timeout(300_000);

  it("the drift check tells kept, aliased, lost and new URNs apart", () => {
    const d = urnDrift(
      ["u:a", "u:b", "u:c", "u:d"],
      [
        { urn: "u:a", aliases: [] },
        { urn: "u:b2", aliases: ["u:b"] },
        { urn: "u:c2", aliases: ["u:c"] },
        { urn: "u:c3", aliases: ["u:c"] },
        { urn: "u:e", aliases: [] },
      ],
    );
    assert.deepEqual(d.lost, ["u:d"]);
    assert.deepEqual(d.ambiguous, ["u:c ← u:c2, u:c3"]);
    assert.deepEqual(d.added, ["u:c2", "u:c3", "u:e"]);
  });

  for (const stack of SHIPPED_STACKS) {
    it(`stacks/Pulumi.${stack}.yaml: each recorded URN is registered or aliased once, and nothing is new`, () => {
      assert.ok(fs.existsSync(urnFixture(stack)), `no URN record for ${stack}: run test/harness/urns.ts ${stack}`);
      const recorded = JSON.parse(fs.readFileSync(urnFixture(stack), "utf8")) as string[];
      const r = stackUrns(stack);
      assert.equal(r.error, undefined, `${stack}: ${r.error}`);
      assert.deepEqual(duplicates(r.resources.map((x) => x.urn)), [], `${stack} registers one URN twice`);
      const d = urnDrift(recorded, r.resources);
      assert.deepEqual(d.lost, [], `${stack}: resources that would be deleted (URN gone, no alias)`);
      assert.deepEqual(d.ambiguous, [], `${stack}: URNs aliased by more than one resource`);
      assert.deepEqual(d.added, [], `${stack}: resources that would be created (URN not recorded)`);
    });
  }

  it("networks voip-a/media and voip/a-media register side by side, each NAD under its own name", () => {
    const platform = loadStackConfig("kubecon-demo") as Record<string, any>;
    const base = platform.networks[0];
    platform.networks = [
      { ...base, name: "media", namespace: "voip-a" },
      { ...base, name: "a-media", namespace: "voip" },
    ];
    // VMs name networks of their own namespace; this case is about networks alone.
    platform.vms = [];
    const r = registeredUrns(urnRequest("kubecon-demo", platform));
    assert.equal(r.error, undefined, r.error);
    const urns = r.resources.map((x) => x.urn);
    assert.deepEqual(duplicates(urns), []);
    const nads = urns.filter((u) => u.includes("k8s.cni.cncf.io/v1:NetworkAttachmentDefinition::"));
    assert.equal(nads.length, 2, nads.join("\n"));
    assert.notEqual(nads[0].split("::").pop(), nads[1].split("::").pop());
  });
});
