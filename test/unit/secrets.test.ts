// Secrets inside the structured config: a leaf set with `pulumi config set --secret --path`
// keeps its secrecy through every resource and output, or the stack is refused. And the secret
// config keys the SSH settings name, `namespace:key` or a bare key of the project.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../../config/errors";
import { CONFIG_ROOT } from "../../config/schema";
import { checkSecretPaths, readStackConfigFile, secretPartsOf, securePaths } from "../../config/secretPaths";
import { readSecretKeys, requiredSecrets, SecretKey, secretKey, sshPlan } from "../../config/ssh";
import { parsePlatform } from "../../config/validate";
import { LAB_MANIFEST, labManifestPin, runProgram, SSH_KEY_CONFIG } from "../harness/program";
import { loadStackConfig, ROOT } from "../harness/stacks";
import { isSecretValue } from "../harness/values";

const ROOT_KEY = CONFIG_ROOT;
const SECRET_USER_DATA = "#cloud-config\nchpasswd: { list: 'voip:hunter2-do-not-leak' }\n";

/** kubecon-demo with the lab's pinned stand-in operator manifest, so the program runs offline. */
function kubeconDemoWithLabManifest(): Record<string, any> {
  const p = loadStackConfig("kubecon-demo") as Record<string, any>;
  // By absolute path: the program runs in a project directory of its own.
  p.kubevirt = { operatorManifest: { ...labManifestPin(), file: path.join(ROOT, LAB_MANIFEST) } };
  return p;
}

describe("secret parts of the platform key", () => {
  it("finds every {secure: …} leaf with its config path", () => {
    const value = {
      vms: [{ name: "a" }, { name: "b", custom: { userData: { secure: "v1:abc" } } }],
      nodes: [{ ssh: { host: { secure: "v1:x" } } }],
    };
    assert.deepEqual(securePaths(value), [
      ["vms", 1, "custom", "userData"],
      ["nodes", 0, "ssh", "host"],
    ]);
  });

  it("accepts a secret custom user data, refuses a secret the program would render in plaintext", () => {
    assert.deepEqual(checkSecretPaths([["vms", 1, "custom", "userData"]]), []);
    const problems = checkSecretPaths([["nodes", 0, "ssh", "host"]]);
    assert.equal(problems.length, 1);
    assert.match(problems[0].problem, /is set with --secret, but the program renders it into plain Kubernetes objects/);
    assert.match(problems[0].fix, /only vms\[\]\.custom\.userData can be secret/);
  });

  it("a secret key without a readable stack file is refused with the reason", () => {
    assert.throws(
      () => secretPartsOf(ROOT_KEY, true, undefined, "prod"),
      (e: ConfigError) =>
        /stack file \(Pulumi\.prod\.yaml\) that says which part is secret could not be read/.test(e.message),
    );
    assert.deepEqual([...secretPartsOf(ROOT_KEY, false, undefined, "prod")], []);
    assert.deepEqual(
      [
        ...secretPartsOf(
          ROOT_KEY,
          true,
          { [ROOT_KEY]: { vms: [{}, { custom: { userData: { secure: "v1:q" } } }] } },
          "prod",
        ),
      ],
      [1],
    );
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

  /**
   * A project dir with a stack file whose custom user data is an encrypted leaf, as
   * `pulumi config set --secret --path` writes it.
   */
  function project(platform: Record<string, any>, secureLeaf: (p: Record<string, any>) => void): string {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvs-secret-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: kubevirt-sriov\nruntime: nodejs\n");
    const onDisk = structuredClone(platform);
    secureLeaf(onDisk);
    fs.writeFileSync(path.join(dir, "Pulumi.sec.yaml"), yaml.dump({ config: { [ROOT_KEY]: onDisk } }));
    return dir;
  }

  function platformWithCustomVm(): Record<string, any> {
    const p = kubeconDemoWithLabManifest();
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
    const secret = r.resources.find(
      (x) => x.type === "kubernetes:core/v1:Secret" && x.inputs.metadata?.name === "kamailio-cloudinit",
    );
    assert.ok(secret, "a cloud-init Secret for the custom VM");
    assert.ok(isSecretValue(secret.inputs.stringData));
    const vm = r.resources.find((x) => x.type === "kubernetes:kubevirt.io/v1:VirtualMachine")!;
    assert.ok(!JSON.stringify(vm.inputs).includes("hunter2"), "no user data in the VM object");
    assert.ok(isSecretValue(vm.inputs.spec), "the spec (with the user data's hash) is secret");
    assert.ok(vm.inputs.spec.value.template.metadata.annotations["kubevirt-sriov/cloud-init-sha256"]);
    assert.deepEqual(vm.inputs.spec.value.template.spec.volumes[1].cloudInitNoCloud.secretRef, {
      name: "kamailio-cloudinit",
    });
    assert.ok(!JSON.stringify(r.outputs ?? {}).includes("hunter2"), "no user data in the outputs");
  });

  it("a secret leaf the program cannot keep secret fails the run, naming it", () => {
    const r = runWithSecretLeaf((p) => (p.nodes[0].ssh.host = { secure: "v1:encrypted" }));
    assert.match(
      r.error?.message ?? "",
      /kubevirt-sriov:platform\.nodes\[0\]\.ssh\.host: is set with --secret, but the program renders it into plain Kubernetes objects/,
    );
    assert.ok(!r.resources.some((x) => x.type.startsWith("kubernetes:")), "nothing registered");
  });
});

describe("secret config keys named as namespace:key", () => {
  /** kubecon-demo with node 0 logging in with a password kept in another namespace. */
  function withOpsPassword(): Record<string, any> {
    const p = loadStackConfig("kubecon-demo") as Record<string, any>;
    delete p.nodes[0].ssh.privateKeySecret;
    p.nodes[0].ssh.passwordSecret = "ops:bmcPassword";
    return p;
  }

  it("a bare key is the project's, a key with a namespace keeps it", () => {
    assert.deepEqual(secretKey("sshPrivateKey"), {
      namespace: "kubevirt-sriov",
      key: "sshPrivateKey",
      full: "kubevirt-sriov:sshPrivateKey",
    });
    assert.deepEqual(secretKey("ops:bmcPassword"), { namespace: "ops", key: "bmcPassword", full: "ops:bmcPassword" });
  });

  it("the schema accepts both spellings and refuses an empty namespace", () => {
    const p = withOpsPassword();
    p.ssh = { privateKeySecret: "kubevirt-sriov:sshPrivateKey" };
    assert.doesNotThrow(() => parsePlatform(p));
    p.nodes[0].ssh.passwordSecret = ":bmcPassword";
    const refused = `${CONFIG_ROOT}.nodes[0].ssh.passwordSecret: ":bmcPassword" must be the name of a config key, like `;
    const accepts = "sshPrivateKey or ops:bmcPassword";
    assert.throws(
      () => parsePlatform(p),
      (e: ConfigError) => e.message.includes(`${refused}${accepts}`),
    );
  });

  it("a secret named both ways is one secret, needed once", () => {
    const p = loadStackConfig("kubecon-demo") as Record<string, any>;
    p.ssh = { privateKeySecret: "kubevirt-sriov:sshPrivateKey" };
    p.nodes[0].ssh.privateKeySecret = "sshPrivateKey";
    p.nodes[0].bastion = { host: "jump.example.internal", passwordSecret: "ops:bmcPassword" };
    const needed = requiredSecrets(sshPlan(parsePlatform(p)));
    assert.deepEqual(
      [...needed],
      [
        ["kubevirt-sriov:sshPrivateKey", { usedBy: "nodes[0].ssh", holds: "private key" }],
        ["ops:bmcPassword", { usedBy: "nodes[0].bastion", holds: "password" }],
      ],
    );
  });

  it("each secret is read from its own namespace", () => {
    const asked: SecretKey[] = [];
    const values = readSecretKeys(requiredSecrets(sshPlan(parsePlatform(withOpsPassword()))), (s) => {
      asked.push(s);
      return { value: `value of ${s.full}`, secret: true };
    });
    assert.deepEqual(asked, [{ namespace: "ops", key: "bmcPassword", full: "ops:bmcPassword" }]);
    assert.deepEqual([...values], [["ops:bmcPassword", "value of ops:bmcPassword"]]);
  });

  it("a missing or plaintext secret is named as namespace:key, with the command that sets it", () => {
    const needed = requiredSecrets(sshPlan(parsePlatform(withOpsPassword())));
    assert.throws(
      () => readSecretKeys(needed, () => undefined),
      (e: ConfigError) =>
        e.message ===
        "missing or unsafe secrets (1 problem):\n" +
          "  - ops:bmcPassword: not set (needed by nodes[0].ssh) — run: pulumi config set --secret ops:bmcPassword",
    );
    assert.throws(
      () => readSecretKeys(needed, () => ({ value: "pw", secret: false })),
      (e: ConfigError) =>
        e.message.endsWith(
          "  - ops:bmcPassword: is stored in plaintext in the stack file — " +
            "re-set it with: pulumi config set --secret ops:bmcPassword",
        ),
    );
    const key = requiredSecrets(sshPlan(parsePlatform(loadStackConfig("kubecon-demo"))));
    assert.throws(
      () => readSecretKeys(key, () => undefined),
      (e: ConfigError) =>
        e.message.endsWith(
          "  - kubevirt-sriov:sshPrivateKey: not set (needed by nodes[0].ssh) — " +
            `run: pulumi config set --secret kubevirt-sriov:sshPrivateKey -- "$(cat ~/.ssh/id_ed25519)"`,
        ),
    );
  });
});

describe("program under mocks: a password in another namespace", function () {
  this.timeout(120_000);

  function platform(): Record<string, any> {
    const p = kubeconDemoWithLabManifest();
    delete p.nodes[0].ssh.privateKeySecret;
    p.nodes[0].ssh.passwordSecret = "ops:bmcPassword";
    return p;
  }

  it("reads ops:bmcPassword from namespace ops and dials the node with it", () => {
    const config = { "ops:bmcPassword": { value: "pw-from-ops", secret: true } };
    const r = runProgram({ stack: "ops", platform: platform(), config });
    assert.equal(r.error, undefined, r.error?.message);
    const cmds = r.resources.filter((x) => x.type === "command:remote:Command");
    assert.ok(cmds.length > 0, "node preparation dials the node");
    for (const c of cmds) assert.match(JSON.stringify(c.inputs.connection), /"password":"pw-from-ops"/);
  });

  it("the same key in the project's namespace is not it: the run names ops:bmcPassword", () => {
    const r = runProgram({
      stack: "ops",
      platform: platform(),
      config: { bmcPassword: { value: "pw", secret: true } },
    });
    assert.equal(r.error?.name, "RunError");
    const line = "ops:bmcPassword: not set (needed by nodes[0].ssh) — run: pulumi config set --secret ops:bmcPassword";
    assert.ok(r.error!.message.split("\n").includes(`  - ${line}`), r.error!.message);
  });
});
