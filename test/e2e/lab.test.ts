// End to end: the real Pulumi engine and providers, a real kube-apiserver, real SSH to
// simulated SR-IOV nodes. One lab for the whole suite; the tests run in order and each
// starts from the state the previous one left (mocha --bail stops at the first failure).
import { strict as assert } from "assert";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Lab } from "../../lab/lab";
import type { LabNode } from "../../lab/nodes";

const lab = new Lab({
  dir: fs.mkdtempSync(path.join(os.tmpdir(), "kvs-e2e-")),
  portBase: Number(process.env.KUBEVIRT_SRIOV_E2E_PORT_BASE ?? 23200),
  quiet: true,
});
const api = lab.controlPlane;
const node = (i: number): LabNode => lab.nodes[i];
const pfState = (i: number, name: string) => {
  const pf = node(i)
    .host.state()
    .pfs.find((p) => p.name === name);
  assert.ok(pf, `lab-node-${i + 1} has no PF ${name}`);
  return pf;
};
/** The injector's TLS key, checked for in the state at the end. */
let injectorKeyLines: string[] = [];
const writes = (i: number) => node(i).host.writes().length;
const sessions = () => lab.nodes.map((n) => n.sessions());
const ok = (r: { status: number | null; stdout: string; stderr: string }, what: string) => {
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
};

describe("the lab, end to end (real engine, API server and SSH)", function () {
  before(async () => {
    await lab.start();
  });

  after(() => {
    lab.stop();
    if (!process.env.KUBEVIRT_SRIOV_E2E_KEEP) fs.rmSync(lab.dir, { recursive: true, force: true });
  });

  it("pulumi up: every object in the API server, every node prepared, one SSH session per node", async () => {
    const before = sessions();
    ok(lab.up(), "pulumi up");
    for (const ds of ["kube-multus-ds", "kube-sriov-device-plugin", "kube-sriov-cni-ds"]) {
      await api.get(`/apis/apps/v1/namespaces/kube-system/daemonsets/${ds}`);
    }
    const cm = await api.get("/api/v1/namespaces/kube-system/configmaps/sriovdp-config");
    assert.deepEqual(Object.keys(cm.data).sort(), ["lab-node-1.json", "lab-node-2.json", "lab-node-3.json"]);
    const n1 = JSON.parse(cm.data["lab-node-1.json"]);
    assert.deepEqual(
      n1.resourceList.map((r: any) => [r.resourceName, r.selectors]),
      [
        [
          "voip_media",
          [
            { drivers: ["vfio-pci"], pfNames: ["ens1f0#0-7"] },
            { drivers: ["vfio-pci"], rootDevices: ["0000:3b:00.1#0-1"] },
          ],
        ],
        ["voip_sig", [{ drivers: ["vfio-pci"], rootDevices: ["0000:3b:00.1#2-3"] }]],
      ],
    );
    const nad = await api.get("/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/media");
    assert.equal(nad.metadata.annotations["k8s.v1.cni.cncf.io/resourceName"], "intel.com/voip_media");
    assert.deepEqual(JSON.parse(nad.spec.config), {
      cniVersion: "1.0.0",
      name: "media",
      type: "sriov",
      vlan: 100,
      spoofchk: "off",
      trust: "on",
      ipam: {},
      capabilities: { mac: true },
    });
    const kv = await api.get("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt");
    // The lab's VMs pin CPUs: KubeVirt's CPUManager gate (Alpha in v1.9) must be on.
    assert.deepEqual(kv.spec.configuration.developerConfiguration, {
      useEmulation: true,
      featureGates: ["CPUManager"],
      disabledFeatureGates: ["ExternalNetResourceInjection"],
    });
    for (const name of ["pbx", "sipp"]) {
      const vm = await api.get(`/apis/kubevirt.io/v1/namespaces/default/virtualmachines/${name}`);
      const spec = vm.spec.template.spec;
      const sriov = spec.domain.devices.interfaces.filter((i: any) => i.sriov);
      assert.ok(
        sriov.length >= 1 && sriov.every((i: any) => /^02:/.test(i.macAddress)),
        `${name}: SR-IOV interfaces with fixed MACs`,
      );
      assert.ok(spec.networks.some((n: any) => n.multus?.networkName === "default/media"));
    }
    for (const n of lab.nodes) {
      const k8sNode = await api.get(`/api/v1/nodes/${n.spec.name}`);
      assert.equal(k8sNode.metadata.labels["kubevirt-sriov/sriov-node"], "true");
    }
    // The simulated hosts: VFs on vfio-pci, persistence installed, the unconfigured PF untouched.
    assert.equal(pfState(0, "ens1f0").numVfs, 8);
    assert.equal(pfState(0, "ens1f1").numVfs, 4);
    assert.equal(pfState(1, "ens1f0").numVfs, 8);
    assert.equal(pfState(2, "ens1f0").numVfs, 4);
    for (let i = 0; i < 3; i++) {
      for (const pf of node(i)
        .host.state()
        .pfs.filter((p) => p.name !== "ens2f0" && p.numVfs > 0)) {
        assert.ok(
          pf.vfs.every((vf) => vf.driver === "vfio-pci"),
          `lab-node-${i + 1} ${pf.name}: every VF on vfio-pci`,
        );
      }
      assert.deepEqual(
        [pfState(i, "ens2f0").numVfs, pfState(i, "ens2f0").vfs.map((v) => v.driver)],
        [1, ["iavf"]],
        "a PF outside the config is never touched",
      );
      const unit = fs.readFileSync(
        path.join(node(i).host.etc, "systemd", "system", "kubevirt-sriov-vfs.service"),
        "utf8",
      );
      assert.match(unit, /Before=.*kubelet\.service/);
      assert.ok(fs.existsSync(path.join(node(i).host.etc, "kubevirt-sriov", "state")));
    }
    assert.deepEqual(
      sessions().map((s, i) => s - before[i]),
      [1, 1, 1],
    );
    const out = lab.outputs();
    assert.deepEqual(
      out.nodes.map((n: any) => [n.node, n.vfioReady]),
      [
        ["lab-node-1", true],
        ["lab-node-2", true],
        ["lab-node-3", true],
      ],
    );
    assert.equal(out.plan.feasible, true);
  });

  it("a second up changes nothing and runs no remote command", () => {
    const before = sessions();
    const w = [0, 1, 2].map(writes);
    ok(lab.pulumi(["preview", "--expect-no-changes"]), "preview --expect-no-changes");
    const up = ok(lab.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]), "up --expect-no-changes");
    // Every resource of the stack (the PBX's user-data is in its own Secret).
    assert.match(up, /\b41 unchanged\b/);
    assert.deepEqual(sessions(), before, "no SSH session");
    assert.deepEqual([0, 1, 2].map(writes), w, "no sysfs write");
  });

  it("a node's VF count changes: that node goes through 0 → N, the others are untouched, the device plugin rolls", async () => {
    const dsBefore = await api.get("/apis/apps/v1/namespaces/kube-system/daemonsets/kube-sriov-device-plugin");
    const before = sessions();
    const w = [0, 1, 2].map(writes);
    lab.editPlatform((p) => (p.nodes[2].physicalFunctions[0].numVfs = 6));
    ok(lab.up(), "pulumi up");
    assert.deepEqual(
      sessions().map((s, i) => s - before[i]),
      [0, 0, 1],
    );
    assert.deepEqual([writes(0), writes(1)], [w[0], w[1]], "nodes 1 and 2: no sysfs write");
    const numvfs = node(2)
      .host.writes()
      .slice(w[2])
      .filter((x) => x.path.endsWith("/sriov_numvfs"))
      .map((x) => x.value);
    assert.deepEqual(numvfs, ["0", "6"]);
    assert.equal(pfState(2, "ens1f0").numVfs, 6);
    const dsAfter = await api.get("/apis/apps/v1/namespaces/kube-system/daemonsets/kube-sriov-device-plugin");
    const hash = (ds: any) => ds.spec.template.metadata.annotations["kubevirt-sriov/vf-hash"];
    assert.notEqual(hash(dsAfter), hash(dsBefore), "the device plugin's pods roll when VFs change");
  });

  it("the policy pack runs through the real engine; a stack that breaks a mandatory policy is blocked", () => {
    const good = ok(lab.pulumi(["preview", "--policy-pack", "policies"]), "preview --policy-pack");
    assert.doesNotMatch(good, /\[mandatory\]/);
    // A valid config the program would deploy, but production must pin every node's host key.
    const policyConfig = path.join(lab.dir, "policy-config.json");
    fs.writeFileSync(policyConfig, JSON.stringify({ "node-prep-host-keys-production": { environment: "production" } }));
    let hostKey: string | undefined;
    lab.editPlatform((p) => {
      hostKey = p.nodes[0].ssh.hostKey;
      delete p.nodes[0].ssh.hostKey;
    });
    try {
      const bad = lab.pulumi(["preview", "--policy-pack", "policies", "--policy-pack-config", policyConfig]);
      assert.notEqual(bad.status, 0, "the preview must fail");
      assert.match(bad.stdout + bad.stderr, /\[mandatory\]\s+node-prep-host-keys-production/);
    } finally {
      lab.editPlatform((p) => (p.nodes[0].ssh.hostKey = hostKey));
    }
  });

  it("the network-resources-injector: its webhook trusts the certificate it serves, the gate stays on, the next up changes nothing", async () => {
    lab.editPlatform((p) => (p.kubevirt.networkResourcesInjector = true));
    ok(lab.up(), "pulumi up with the injector");
    const webhook = await api.get(
      "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/network-resources-injector-config",
    );
    const hook = webhook.webhooks[0];
    assert.deepEqual(hook.objectSelector, { matchLabels: { "kubevirt.io": "virt-launcher" } });
    assert.deepEqual(hook.clientConfig.service, {
      namespace: "kube-system",
      name: "network-resources-injector-service",
      path: "/mutate",
      port: 443,
    });
    const secret = await api.get("/api/v1/namespaces/kube-system/secrets/network-resources-injector-tls");
    const cert = new X509Certificate(Buffer.from(secret.data["tls.crt"], "base64"));
    const ca = new X509Certificate(Buffer.from(hook.clientConfig.caBundle, "base64"));
    assert.ok(cert.verify(ca.publicKey), "the caBundle signs the serving certificate");
    assert.ok(cert.checkHost("network-resources-injector-service.kube-system.svc"));
    const deployment = await api.get("/apis/apps/v1/namespaces/kube-system/deployments/network-resources-injector");
    assert.equal(
      deployment.spec.template.spec.containers[0].image,
      "ghcr.io/k8snetworkplumbingwg/network-resources-injector:v1.9.0",
    );
    const kv = await api.get("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt");
    assert.deepEqual(kv.spec.configuration.developerConfiguration, {
      useEmulation: true,
      featureGates: ["CPUManager"],
    });
    assert.equal(lab.outputs().networkResourcesInjector.webhookConfiguration, "network-resources-injector-config");
    // The injector satisfies the injection-gate policy, and the certificate is not re-issued.
    assert.doesNotMatch(
      ok(lab.pulumi(["preview", "--policy-pack", "policies"]), "preview --policy-pack"),
      /\[mandatory\]/,
    );
    ok(lab.pulumi(["preview", "--expect-no-changes"]), "preview --expect-no-changes with the injector");
    // A renewal (here: a new validity) issues a new serving certificate from the same CA, so the
    // webhook's caBundle, and with it the API server's trust, does not change.
    lab.editPlatform((p) => (p.kubevirt.networkResourcesInjector = { certificate: { validityDays: 300 } }));
    ok(lab.up(), "pulumi up with a new certificate validity");
    const renewed = await api.get("/api/v1/namespaces/kube-system/secrets/network-resources-injector-tls");
    const hookAfter = (
      await api.get(
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/network-resources-injector-config",
      )
    ).webhooks[0];
    assert.equal(hookAfter.clientConfig.caBundle, hook.clientConfig.caBundle, "same CA");
    const newCert = new X509Certificate(Buffer.from(renewed.data["tls.crt"], "base64"));
    assert.notEqual(newCert.serialNumber, cert.serialNumber, "a new serving certificate");
    assert.ok(newCert.verify(ca.publicKey));
    assert.ok(
      Math.abs(Date.parse(newCert.validTo) - Date.now() - 300 * 86_400_000) < 86_400_000,
      `valid for 300 days: ${newCert.validTo}`,
    );
    // The CA's key lives only in the command's (secret) output: find it to check the state later.
    const exported = JSON.parse(
      ok(lab.pulumi(["stack", "export", "--show-secrets"], { capture: true }), "stack export"),
    );
    const tlsCommand = exported.deployment.resources.find(
      (x: any) => x.type === "command:local:Command" && /network-resources-injector-tls$/.test(x.urn),
    );
    // --show-secrets writes a secret as {<sig>, plaintext: <its JSON>}.
    const stdout = tlsCommand.outputs.stdout;
    const caKey: string = JSON.parse(typeof stdout === "string" ? stdout : JSON.parse(stdout.plaintext)).ca.key;
    assert.match(caKey, /BEGIN PRIVATE KEY/);
    const key = [secret, renewed].map((x) => Buffer.from(x.data["tls.key"], "base64").toString()).join("") + caKey;
    lab.editPlatform((p) => delete p.kubevirt.networkResourcesInjector);
    ok(lab.up(), "pulumi up without the injector");
    assert.equal(
      await api.find(
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/network-resources-injector-config",
      ),
      undefined,
    );
    assert.equal(await api.find("/api/v1/namespaces/kube-system/secrets/network-resources-injector-tls"), undefined);
    const kvAfter = await api.get("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt");
    assert.deepEqual(kvAfter.spec.configuration.developerConfiguration.disabledFeatureGates, [
      "ExternalNetResourceInjection",
    ]);
    injectorKeyLines = key.split("\n").filter((l) => l && !l.startsWith("-----"));
  });

  it("an unreachable node fails the up by name while the others are done; it converges once back", () => {
    lab.editPlatform((p) => {
      p.nodes[0].physicalFunctions[0].numVfs = 6;
      p.nodes[1].physicalFunctions[0].numVfs = 6;
      p.nodes[2].physicalFunctions[0].numVfs = 5;
    });
    node(1).stopSsh();
    const failed = lab.up();
    assert.notEqual(failed.status, 0);
    const text = failed.stdout + failed.stderr;
    assert.match(text, /lab-node-2/);
    assert.match(text, new RegExp(`127\\.0\\.0\\.1:${node(1).spec.sshPort}`));
    assert.equal(pfState(0, "ens1f0").numVfs, 6, "node 1 done");
    assert.equal(pfState(2, "ens1f0").numVfs, 5, "node 3 done");
    assert.equal(pfState(1, "ens1f0").numVfs, 8, "node 2 unchanged");
    return node(1)
      .startSsh(path.join(lab.dir, "ssh", "id_ed25519.pub"))
      .then(() => {
        ok(lab.up(), "pulumi up after the node is back");
        assert.equal(pfState(1, "ens1f0").numVfs, 6);
        ok(lab.pulumi(["preview", "--expect-no-changes"]), "converged");
      });
  });

  it("a replaced node command reverts first, then applies (deleteBeforeReplace): the node keeps its VFs", () => {
    const exported = JSON.parse(ok(lab.pulumi(["stack", "export"], { capture: true }), "stack export"));
    const urn: string = exported.deployment.resources.find(
      (x: any) => x.type === "command:remote:Command" && /lab-node-1-sriov$/.test(x.urn),
    ).urn;
    const before = sessions();
    const w = writes(0);
    ok(lab.pulumi(["up", "--yes", "--skip-preview", "--replace", urn]), "pulumi up --replace");
    assert.deepEqual(
      sessions().map((s, i) => s - before[i]),
      [2, 0, 0],
      "one session for the revert, one for the apply",
    );
    const numvfs = node(0)
      .host.writes()
      .slice(w)
      .filter((x) => x.path.includes("0000:3b:00.0/sriov_numvfs"))
      .map((x) => x.value);
    assert.deepEqual(numvfs, ["0", "6"], "revert to the original 0 VFs, then apply 6");
    assert.equal(pfState(0, "ens1f0").numVfs, 6);
    assert.ok(fs.existsSync(path.join(node(0).host.etc, "systemd", "system", "kubevirt-sriov-vfs.service")));
  });

  it("a node gone for good: decommissioned, then removed, neither up dials it; its host keeps its VFs until cleaned by hand", async () => {
    node(2).stopSsh();
    lab.editPlatform((p) => (p.nodes[2].decommissioned = true));
    ok(lab.up(), "pulumi up with lab-node-3 decommissioned (and unreachable)");
    const removed = lab.nodes[2].spec.name;
    lab.editPlatform((p) => p.nodes.splice(2, 1));
    ok(lab.up(), "pulumi up without lab-node-3");
    const k8sNode = await api.get(`/api/v1/nodes/${removed}`);
    assert.equal(k8sNode.metadata.labels["kubevirt-sriov/sriov-node"], undefined, "its label went with its entry");
    assert.equal(pfState(2, "ens1f0").numVfs, 5, "the host is left as it was");
    const script = path.join(node(2).host.etc, "kubevirt-sriov", "sriov-node.sh");
    assert.ok(fs.existsSync(path.join(node(2).host.etc, "systemd", "system", "kubevirt-sriov-vfs.service")));
    // The README's cleanup by hand, on the host.
    const r = node(2).host.run(["revert"], "", script);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(pfState(2, "ens1f0").numVfs, 0);
    await node(2).startSsh(path.join(lab.dir, "ssh", "id_ed25519.pub"));
  });

  it("pulumi destroy: API objects gone, every node back to its original VF count, nothing left on the nodes", async () => {
    ok(lab.destroy(), "pulumi destroy");
    assert.equal(
      await api.find("/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/media"),
      undefined,
    );
    assert.equal(await api.find("/apis/apps/v1/namespaces/kube-system/daemonsets/kube-sriov-device-plugin"), undefined);
    assert.equal(await api.find("/api/v1/namespaces/kube-system/configmaps/sriovdp-config"), undefined);
    assert.equal(
      await api.find("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualmachines.kubevirt.io"),
      undefined,
    );
    for (const n of lab.nodes) {
      const k8sNode = await api.get(`/api/v1/nodes/${n.spec.name}`);
      assert.equal(k8sNode.metadata.labels["kubevirt-sriov/sriov-node"], undefined, `${n.spec.name}: label removed`);
    }
    // lab-node-2 started with 2 VFs on ens1f0: revert restores exactly that.
    assert.deepEqual(
      [0, 1, 2].map((i) => pfState(i, "ens1f0").numVfs),
      [0, 2, 0],
    );
    assert.equal(pfState(0, "ens1f1").numVfs, 0);
    for (let i = 0; i < 3; i++) {
      assert.ok(
        !fs.existsSync(path.join(node(i).host.etc, "systemd", "system", "kubevirt-sriov-vfs.service")),
        "unit removed",
      );
      assert.ok(!fs.existsSync(path.join(node(i).host.etc, "kubevirt-sriov")), "state removed");
      assert.equal(pfState(i, "ens2f0").numVfs, 1);
    }
  });

  it("no private key (SSH or the injector's TLS key) in plaintext in the state, the logs or the lab's stack config", () => {
    const key = fs.readFileSync(path.join(lab.dir, "ssh", "id_ed25519"), "utf8");
    const body = key.split("\n").filter((l) => l && !l.startsWith("-----"));
    assert.ok(body.length > 0);
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) files.push(p);
      }
    };
    for (const d of ["state", "logs", "project", path.join("cluster", "logs"), "pulumi-home"]) {
      if (fs.existsSync(path.join(lab.dir, d))) walk(path.join(lab.dir, d));
    }
    assert.ok(
      files.some((f) => f.includes(`${path.sep}state${path.sep}`)),
      "the state was scanned",
    );
    for (const f of files) {
      if (fs.statSync(f).size > 50 * 1024 * 1024) continue;
      const text = fs.readFileSync(f, "latin1");
      for (const line of body) assert.ok(!text.includes(line), `${f} contains the SSH private key`);
      for (const line of injectorKeyLines) assert.ok(!text.includes(line), `${f} contains the injector's TLS key`);
      assert.ok(!text.includes("BEGIN OPENSSH PRIVATE KEY"), `${f} contains a private key`);
    }
  });
});
