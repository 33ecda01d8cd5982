// `npm run bench` rewrites BENCHMARKS.md: the sections it does not generate must survive.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ENGINE_SECTION, replaceSection, sectionBody, withHandWrittenSections } from "../../bench/bench";
import { engineFleet } from "../../bench/engineBench";
import { generateFleet } from "../../bench/fleet";
import { parsePlatform } from "../../config/validate";
import { ROOT } from "../harness/stacks";

describe("npm run bench keeps the hand-written sections of BENCHMARKS.md", () => {
  const generated = "# Benchmarks\n\nMachine: x.\n\n## Program cost against the SDK floor\n\nnew table\n";

  it("replaces its own sections and appends the others, in their order", () => {
    const previous =
      "# Benchmarks\n\n## Program cost against the SDK floor\n\nold table\n\n## Real kernels\n\nguests\n\n## Notes\n\nwritten by hand\n";
    assert.equal(
      withHandWrittenSections(generated, previous),
      "# Benchmarks\n\nMachine: x.\n\n## Program cost against the SDK floor\n\nnew table\n\n## Real kernels\n\nguests\n\n## Notes\n\nwritten by hand\n",
    );
  });

  it("keeps today's real-kernel section of the checked-in file", () => {
    const out = withHandWrittenSections(generated, fs.readFileSync(path.join(ROOT, "BENCHMARKS.md"), "utf8"));
    assert.match(out, /^## Real kernels: QEMU guests with igb SR-IOV NICs/m);
    assert.equal(out.match(/^## Program cost against the SDK floor/gm)?.length, 1);
  });

  it("--engine, --memory and --preview replace their one section and keep every other", () => {
    const previous =
      "# Benchmarks\n\nMachine: x.\n\n## Program cost against the SDK floor\n\ntable\n\n## Real kernels\n\nguests\n";
    const once = replaceSection(previous, ENGINE_SECTION, "engine table");
    assert.equal(once, `${previous}\n## ${ENGINE_SECTION}\n\nengine table\n`);
    const twice = replaceSection(once, ENGINE_SECTION, "new engine table\n");
    assert.equal(twice, `${previous}\n## ${ENGINE_SECTION}\n\nnew engine table\n`);
    assert.equal(
      replaceSection(twice, "Program cost against the SDK floor", "t2"),
      twice.replace("\ntable\n", "\nt2\n"),
    );
    // A later full run keeps them as sections it does not generate.
    assert.match(
      withHandWrittenSections(generated, twice),
      /## Real engine: a fleet through the lab[^\n]*\n\nnew engine table\n/,
    );
  });

  it("is the generated document alone when there is nothing else", () => {
    assert.equal(withHandWrittenSections(generated, ""), generated);
  });
});

describe("npm run bench: the fleets", () => {
  const shape = { nodes: 600, pfsPerNode: 2, vfsPerPf: 16, pools: 4, networks: 4, vms: 40 };

  it("are written with a profile, and expand to exactly the nodes written out one by one", () => {
    const viaProfile = generateFleet(shape);
    assert.equal((viaProfile.nodes as unknown[]).length, 3, "600 nodes in three entries of at most 256");
    const a = parsePlatform(viaProfile);
    const b = parsePlatform(generateFleet(shape, "per-node"));
    assert.deepEqual(
      a.nodes.map((n) => n.config),
      b.nodes.map((n) => n.config),
    );
    assert.deepEqual(
      a.nodes.slice(255, 258).map((n) => [n.config.name, n.config.ssh.host]),
      [
        ["node-255", "10.0.0.255"],
        ["node-256", "10.0.1.0"],
        ["node-257", "10.0.1.1"],
      ],
    );
    const sel = parsePlatform(generateFleet(shape, "selectors"));
    assert.deepEqual(
      sel.nodes[0].pfs.map((p) => p.key),
      ["selector(8086:1593, port 0)", "selector(8086:1593, port 1)"],
    );
  });

  it("the real-engine fleet is a valid stack: node 1 the lab node, the others behind the stub sshd", () => {
    const p = engineFleet(
      5,
      { port: 30101, hostKey: "ssh-ed25519 AAAAreal" },
      { port: 30160, hostKey: "ssh-ed25519 AAAAstub" },
    );
    const model = parsePlatform(p);
    assert.deepEqual(
      model.nodes.map((n) => [n.config.name, n.config.ssh.port]),
      [
        ["lab-node-1", 30101],
        ["node-1", 30160],
        ["node-2", 30160],
        ["node-3", 30160],
        ["node-4", 30160],
      ],
    );
    assert.deepEqual(
      model.nodes[0].pfs.map((pf) => pf.config.name),
      ["ens1f0", "ens1f1"],
    );
    assert.equal((p.vms as unknown[]).length, 20);
    assert.notEqual(
      p.nodes[0].physicalFunctions[0].ranges,
      p.nodes[1].physicalFunctions[0].ranges,
      "node 1 can change alone",
    );
  });

  it("reads a section's text, for keeping the lab's figures when the lab is skipped", () => {
    const doc = "# B\n\n## One\n\nfirst\n\n## Node preparation and no-op preview (the lab)\n\n| a |\n\n## Two\n";
    assert.equal(sectionBody(doc, "Node preparation and no-op preview (the lab)"), "| a |");
    assert.equal(sectionBody(doc, "Missing"), undefined);
  });
});
