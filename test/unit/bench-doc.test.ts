// `npm run bench` rewrites BENCHMARKS.md: the sections it does not generate must survive.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { withHandWrittenSections } from "../../bench/bench";
import { ROOT } from "../fixtures/stacks";

describe("npm run bench keeps the hand-written sections of BENCHMARKS.md", () => {
  const generated = "# Benchmarks\n\nMachine: x.\n\n## Program cost against the SDK floor\n\nnew table\n";

  it("replaces its own sections and appends the others, in their order", () => {
    const previous = "# Benchmarks\n\n## Program cost against the SDK floor\n\nold table\n\n## Real kernels\n\nguests\n\n## Notes\n\nwritten by hand\n";
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

  it("is the generated document alone when there is nothing else", () => {
    assert.equal(withHandWrittenSections(generated, ""), generated);
  });
});
