// Child names (config/names.ts): keys joined with a character no Kubernetes name contains, so
// two different config entries never give one resource name; the check that would report it.
import { strict as assert } from "assert";
import fc from "fast-check";
import { ConfigError } from "../../config/errors";
import {
  aliasNames,
  childName,
  childNameCollisions,
  keyedChildName,
  nameCollisions,
  previousChildName,
  renamedFrom,
} from "../../config/names";
import { parsePlatform } from "../../config/validate";
import { multiNodeConfig } from "../fixtures/stacks";

/** What an RFC 1123 label can be: a-z, 0-9 and '-', starting and ending alphanumeric. */
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);

describe("child names", () => {
  it("join the parent and fixed words with '-', then the key's parts with '/'", () => {
    assert.equal(childName("lab", "multus"), "lab-multus");
    assert.equal(childName("lab", "ippools", "crd"), "lab-ippools-crd");
    assert.equal(childName("lab", ["worker-1"]), "lab-worker-1");
    assert.equal(childName("lab", "vm", ["voip", "pbx"]), "lab-vm-voip/pbx");
    assert.equal(keyedChildName.nad("lab-net", { namespace: "voip", name: "media" }), "lab-net-voip/media");
  });

  it("networks voip-a/media and voip/a-media get different NAD names (joined with '-' they were one)", () => {
    const a = { namespace: "voip-a", name: "media" };
    const b = { namespace: "voip", name: "a-media" };
    assert.notEqual(keyedChildName.nad("s-net", a), keyedChildName.nad("s-net", b));
    assert.equal(previousChildName("s-net", [a.namespace, a.name]), previousChildName("s-net", [b.namespace, b.name]));
  });

  it("different keys of DNS labels never give one name (property)", () => {
    fc.assert(
      fc.property(fc.tuple(label, label), fc.tuple(label, label), (k1, k2) => {
        fc.pre(k1[0] !== k2[0] || k1[1] !== k2[1]);
        return childName("s", "vm", k1) !== childName("s", "vm", k2);
      }),
    );
  });

  it("refuse a key part that is empty or contains '/', naming the parent and the part", () => {
    assert.throws(() => childName("lab-net", ["voip", "a/b"]), {
      message: 'child of lab-net: key part "a/b" must be non-empty and free of "/"',
    });
    assert.throws(() => childName("lab-net", ["", "media"]), {
      message: 'child of lab-net: key part "" must be non-empty and free of "/"',
    });
  });

  it("refuse a key that is not last", () => {
    const parts = [["voip"], "vm"] as unknown as string[];
    assert.throws(() => childName("lab", ...parts), { message: 'a child name\'s key must come last: [["voip"],"vm"]' });
  });

  it("the previous name joins everything with '-', and an unchanged name gets no alias", () => {
    assert.equal(previousChildName("lab", "vm", ["voip", "pbx"]), "lab-vm-voip-pbx");
    assert.deepEqual(renamedFrom("lab-vm-voip-pbx", "lab-vm-voip/pbx"), [{ name: "lab-vm-voip-pbx" }]);
    assert.deepEqual(renamedFrom("lab-multus", "lab-multus"), []);
  });

  it("a component's aliases that give a name are the names its children were known by", () => {
    assert.deepEqual(aliasNames([{ name: "old" }, "urn:pulumi:s::p::t::x", { type: "t" }, null]), ["old"]);
    assert.deepEqual(aliasNames(undefined), []);
  });
});

describe("child name collisions", () => {
  const entry = (i: number, ns: string, name: string) => ({
    path: ["networks", i, "name"],
    entry: `network ${ns}/${name}`,
    name: previousChildName("<stack>-net", [ns, name]),
  });

  it("are reported with both entries, the name and the fix (here with the '-' joins of before)", () => {
    const pair = [entry(0, "voip-a", "media"), entry(1, "voip", "a-media")];
    assert.deepEqual(nameCollisions("NetworkAttachmentDefinition", pair), [
      {
        path: ["networks", 1, "name"],
        problem:
          'network voip/a-media and network voip-a/media would both be named "<stack>-net-voip-a-media" as a ' +
          "NetworkAttachmentDefinition, and Pulumi refuses two resources with one URN",
        fix: "rename one of the two (network voip/a-media or network voip-a/media)",
      },
    ]);
  });

  it("leave the same entry listed twice to the duplicate checks", () => {
    const same = [entry(0, "voip", "media"), entry(1, "voip", "media")];
    assert.deepEqual(nameCollisions("NetworkAttachmentDefinition", same), []);
  });

  it("none for voip-a/media and voip/a-media with today's names", () => {
    const cfg = multiNodeConfig() as Record<string, any>;
    const base = cfg.networks[0];
    cfg.networks.push({ ...base, namespace: "voip-a", name: "media" }, { ...base, namespace: "voip", name: "a-media" });
    assert.deepEqual(childNameCollisions(cfg as never), []);
    const model = parsePlatform(cfg);
    assert.ok(model.networks.has("voip-a/media") && model.networks.has("voip/a-media"));
  });

  it("a duplicate network is reported once, as a duplicate", () => {
    const cfg = multiNodeConfig() as Record<string, any>;
    cfg.networks.push({ ...cfg.networks[0] });
    assert.throws(
      () => parsePlatform(cfg),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const networkProblems = e.problems.filter((p) => p.path[0] === "networks").map((p) => p.problem);
        assert.deepEqual(networkProblems, ['duplicate network "voip/media"']);
        return true;
      },
    );
  });
});
