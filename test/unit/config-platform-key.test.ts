// A stack without the `kubevirt-sriov:platform` key: the program fails with a config error
// that names the key and says how to set it, not with the SDK's own exception.
import { strict as assert } from "assert";
import { runProgram } from "../harness/program";

describe("the program without its platform key", function () {
  this.timeout(180_000);

  it("fails with a config error that names the key and says how to set it", () => {
    const r = runProgram({ stack: "empty", platform: undefined });
    assert.ok(r.error, "the program ran without its configuration");
    assert.match(
      r.error.message,
      /missing stack configuration \(1 problem\):\n {2}- kubevirt-sriov:platform: is not set in stack "empty", .* — add a "kubevirt-sriov:platform:" map under "config:" in stacks\/Pulumi\.empty\.yaml/,
    );
    assert.doesNotMatch(r.error.message, /Missing required configuration variable/);
  });
});
