// Secrets inside the structured config: a leaf set with `pulumi config set --secret --path`
// keeps its secrecy through every resource and output, or the stack is refused.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../../config/errors";
import { checkSecretPaths, readStackConfigFile, secretPartsOf, securePaths } from "../../config/secretPaths";
import { loadStackConfig, ROOT } from "../harness/stacks";
import { LAB_MANIFEST, labManifestPin, runProgram, SSH_KEY_CONFIG } from "../harness/program";
import { isSecretValue } from "../harness/values";

const ROOT_KEY = "kubevirt-sriov:platform";
const SECRET_USER_DATA = "#cloud-config\nchpasswd: { list: 'voip:hunter2-do-not-leak' }\n";

describe("secret parts of the platform key", () => {
  it("finds every {secure: …} leaf with its config path", () => {
    const value = { vms: [{ name: "a" }, { name: "b", custom: { userData: { secure: "v1:abc" } } }], nodes: [{ ssh: { host: { secure: "v1:x" } } }] };
    assert.deepEqual(securePaths(value), [["vms", 1, "custom", "userData"], ["nodes", 0, "ssh", "host"]]);
  });

  it("accepts a secret custom user data, refuses a secret the program would render in plaintext", () => {
    assert.deepEqual(checkSecretPaths([["vms", 1, "custom", "userData"]]), []);
    const problems = checkSecretPaths([["nodes", 0, "ssh", "host"]]);
    assert.equal(problems.length, 1);
    assert.match(problems[0].problem, /is set with --secret, but the program renders it into plain Kubernetes objects/);
    assert.match(problems[0].fix, /only vms\[\]\.custom\.userData can be secret/);
  });

  it("a secret key without a readable stack file is refused with the reason", () => {
    assert.throws(() => secretPartsOf(ROOT_KEY, true, undefined, "prod"), (e: ConfigError) => /stack file \(Pulumi\.prod\.yaml\) that says which part is secret could not be read/.test(e.message));
    assert.deepEqual([...secretPartsOf(ROOT_KEY, false, undefined, "prod")], []);
    assert.deepEqual([...secretPartsOf(ROOT_KEY, true, { [ROOT_KEY]: { vms: [{}, { custom: { userData: { secure: "v1:q" } } }] } }, "prod")], [1]);
  });

  it("reads the stack file from the project's stackConfigDir", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-stackfile-"));
    try {
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: p\nruntime: nodejs\nstackConfigDir: stacks\n");
      fs.mkdirSync(path.join(dir, "stacks"));
      fs.writeFileSync(path.join(dir, "stacks", "Pulumi.s.yaml"), yaml.dump({ config: { [ROOT_KEY]: { a: 1 } } }));
      assert.deepEqual(readStackConfigFile("s", dir), { [ROOT_KEY]: { a: 1 } });
      assert.equal(readStackConfigFile("other", dir), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("program under mocks: custom user data set with --secret", function () {
  this.timeout(120_000);
  let dir: string;

  /** A project dir with a stack file whose custom user data is an encrypted leaf, as `pulumi config set --secret --path` writes it. */
  function project(platform: Record<string, any>, secureLeaf: (p: Record<string, any>) => void): string {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-secret-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: kubevirt-sriov\nruntime: nodejs\n");
    const onDisk = structuredClone(platform);
    secureLeaf(onDisk);
    fs.writeFileSync(path.join(dir, "Pulumi.sec.yaml"), yaml.dump({ config: { [ROOT_KEY]: onDisk } }));
    return dir;
  }

  function platformWithCustomVm(): Record<string, any> {
    const p = loadStackConfig("kubecon-demo") as Record<string, any>;
    // By absolute path: the program runs in a project directory of its own.
    p.kubevirt = { operatorManifest: { ...labManifestPin(), file: path.join(ROOT, LAB_MANIFEST) } };
    p.vms = [{ ...p.vms[0], name: "kamailio", role: "custom", custom: { userData: SECRET_USER_DATA }, pbx: undefined }];
    delete p.vms[0].pbx;
    return p;
  }

  /** The program with the platform key marked secret and one leaf encrypted in the stack file. */
  function runWithSecretLeaf(secureLeaf: (p: Record<string, any>) => void) {
    const platform = platformWithCustomVm();
    return runProgram({
      stack: "sec",
      platform,
      platformSecret: true,
      projectDir: project(platform, secureLeaf),
      config: SSH_KEY_CONFIG,
    });
  }

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("goes only into the VM's Secret, as a secret; the VM spec holds no user data and, carrying its hash, is secret", () => {
    const r = runWithSecretLeaf((p) => (p.vms[0].custom.userData = { secure: "v1:encrypted" }));
    assert.equal(r.error, undefined, r.error?.message);
    const secret = r.resources.find((x) => x.type === "kubernetes:core/v1:Secret" && x.inputs.metadata?.name === "kamailio-cloudinit");
    assert.ok(secret, "a cloud-init Secret for the custom VM");
    assert.ok(isSecretValue(secret.inputs.stringData));
    const vm = r.resources.find((x) => x.type === "kubernetes:kubevirt.io/v1:VirtualMachine")!;
    assert.ok(!JSON.stringify(vm.inputs).includes("hunter2"), "no user data in the VM object");
    assert.ok(isSecretValue(vm.inputs.spec), "the spec (with the user data's hash) is secret");
    assert.ok(vm.inputs.spec.value.template.metadata.annotations["kubevirt-sriov/cloud-init-sha256"]);
    assert.deepEqual(vm.inputs.spec.value.template.spec.volumes[1].cloudInitNoCloud.secretRef, { name: "kamailio-cloudinit" });
    assert.ok(!JSON.stringify(r.outputs ?? {}).includes("hunter2"), "no user data in the outputs");
  });

  it("a secret leaf the program cannot keep secret fails the run, naming it", () => {
    const r = runWithSecretLeaf((p) => (p.nodes[0].ssh.host = { secure: "v1:encrypted" }));
    assert.match(r.error?.message ?? "", /kubevirt-sriov:platform\.nodes\[0\]\.ssh\.host: is set with --secret, but the program renders it into plain Kubernetes objects/);
    assert.ok(!r.resources.some((x) => x.type.startsWith("kubernetes:")), "nothing registered");
  });
});
