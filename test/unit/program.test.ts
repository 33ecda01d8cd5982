// The real program (index.ts) under Pulumi mocks, for kubecon-demo and a multi-node stack:
// asserts on the Kubernetes objects and commands it would send.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { multiNodeConfig } from "../fixtures/stacks";
import {
  byType,
  k8s,
  LAB_MANIFEST,
  runProgram,
  SSH_KEY_CONFIG,
  TEST_PRIVATE_KEY,
  withLabManifest,
} from "../harness/program";
import type { Registration } from "../harness/mocks";
import type { ProgramResult } from "../harness/runProgram";
import { loadStackConfig, ROOT } from "../harness/stacks";
import { SECRET_SIG, unsecret } from "../harness/values";

type Res = ProgramResult["resources"][number];
const images = (ds: Res): string[] => {
  const spec = ds.inputs.spec.template.spec;
  return [...(spec.initContainers ?? []), ...spec.containers].map((c: { image: string }) => c.image);
};

describe("program under mocks: kubecon-demo", function () {
  this.timeout(120_000);
  let r: ProgramResult;
  before(() => {
    r = runProgram({
      stack: "kubecon-demo",
      platform: withLabManifest(loadStackConfig("kubecon-demo")),
      config: SSH_KEY_CONFIG,
    });
    assert.equal(r.error, undefined, r.error?.message);
  });

  it("Multus: CRD, RBAC, daemon config and DaemonSet, image pinned", () => {
    const crd = k8s(r, "CustomResourceDefinition", "network-attachment-definitions.k8s.cni.cncf.io");
    assert.equal(crd.inputs.spec.scope, "Namespaced");
    assert.deepEqual(crd.inputs.spec.names.shortNames, ["net-attach-def", "nad"]);
    for (const kind of ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]) k8s(r, kind, "multus");
    assert.ok(JSON.parse(k8s(r, "ConfigMap", "multus-daemon-config").inputs.data["daemon-config.json"]).socketDir);
    const ds = k8s(r, "DaemonSet", "kube-multus-ds");
    assert.equal(ds.inputs.metadata.namespace, "kube-system");
    assert.equal(ds.inputs.spec.template.spec.hostNetwork, true);
    assert.equal(ds.inputs.spec.template.spec.hostPID, true);
    assert.deepEqual(images(ds), [
      "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0-thick",
      "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0-thick",
    ]);
  });

  it("device plugin: sriovdp-config with the demo's pools, DaemonSet on SR-IOV nodes with the config hash", () => {
    const cm = k8s(r, "ConfigMap", "sriovdp-config");
    const conf = JSON.parse(cm.inputs.data["config.json"]);
    assert.deepEqual(
      conf.resourceList.map((x: any) => [x.resourcePrefix, x.resourceName, x.selectors[0].rootDevices]),
      [
        ["intel.com", "sriov_net_A", ["0000:02:00.0#0-7", "0000:02:00.2#0-7"]],
        ["intel.com", "sriov_net_B", ["0000:02:00.1#0-7", "0000:02:00.3#0-7"]],
      ],
    );
    assert.equal(cm.inputs.metadata.annotations["kubevirt-sriov/nodes"], "1");
    const ds = k8s(r, "DaemonSet", "kube-sriov-device-plugin");
    const spec = ds.inputs.spec.template.spec;
    assert.deepEqual(spec.nodeSelector, { "kubevirt-sriov/sriov-node": "true", "kubernetes.io/os": "linux" });
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.containers[0].securityContext.privileged, true);
    assert.deepEqual(images(ds), ["ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.11.0"]);
    assert.ok(spec.containers[0].args.includes("--config-file=/etc/pcidp/config.json"));
    assert.match(ds.inputs.spec.template.metadata.annotations["kubevirt-sriov/config-hash"], /^[0-9a-f]{16}$/);
    assert.match(ds.inputs.spec.template.metadata.annotations["kubevirt-sriov/vf-hash"], /^[0-9a-f]{16}$/);
    const mounts = spec.containers[0].volumeMounts.map((m: any) => m.mountPath).sort();
    assert.deepEqual(mounts, [
      "/etc/pcidp",
      "/var/lib/kubelet/device-plugins",
      "/var/lib/kubelet/plugins_registry",
      "/var/log",
      "/var/run/k8s.cni.cncf.io/devinfo/dp",
    ]);
  });

  it("SR-IOV CNI: unprivileged DaemonSet", () => {
    const ds = k8s(r, "DaemonSet", "kube-sriov-cni-ds");
    const c = ds.inputs.spec.template.spec.containers[0];
    assert.equal(c.image, "ghcr.io/k8snetworkplumbingwg/sriov-cni:v2.10.0");
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    assert.equal(ds.inputs.spec.template.spec.hostNetwork, undefined);
  });

  it("KubeVirt: operator manifest as a ConfigGroup; the CR with ExternalNetResourceInjection disabled and CPUManager on", () => {
    const group = byType(r, "kubernetes:yaml/v2:ConfigGroup");
    assert.equal(group.length, 1);
    assert.equal(group[0].inputs.yaml, fs.readFileSync(path.join(ROOT, LAB_MANIFEST), "utf8"));
    const cr = k8s(r, "KubeVirt", "kubevirt");
    assert.equal(cr.inputs.metadata.namespace, "kubevirt");
    // The demo's VMs pin CPUs: without the (Alpha) CPUManager gate they would stay Pending.
    assert.deepEqual(cr.inputs.spec.configuration.developerConfiguration, {
      useEmulation: false,
      featureGates: ["CPUManager"],
      disabledFeatureGates: ["ExternalNetResourceInjection"],
    });
  });

  it("NAD sriov-net on sriov_net_A", () => {
    const nad = k8s(r, "NetworkAttachmentDefinition", "sriov-net");
    assert.equal(nad.type, "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition");
    assert.equal(nad.inputs.metadata.namespace, "default");
    assert.equal(nad.inputs.metadata.annotations["k8s.v1.cni.cncf.io/resourceName"], "intel.com/sriov_net_A");
    const cni = JSON.parse(nad.inputs.spec.config);
    assert.equal(cni.type, "sriov");
    assert.equal(cni.vlan, 0);
  });

  it("node k8s-node1: one remote command with a secret key, apply on create/update, revert on delete; label patch", () => {
    const cmds = byType(r, "command:remote:Command");
    assert.equal(cmds.length, 1);
    const c: Record<string, any> = { ...cmds[0].inputs, connection: unsecret(cmds[0].inputs.connection) };
    assert.equal(c.connection.host, "k8s-node1.example.internal");
    assert.equal(c.connection.user, "root");
    assert.ok(!JSON.stringify(c.create).includes("test-key-material"), "no key in the command");
    assert.ok(JSON.stringify(cmds[0].inputs.connection).includes(SECRET_SIG), "the connection is secret");
    assert.ok(
      JSON.stringify(c.connection.privateKey).includes(SECRET_SIG) || cmds[0].inputs.connection[SECRET_SIG],
      "the key is secret",
    );
    assert.ok(!JSON.stringify(r.outputs).includes("test-key-material"), "no key in the outputs");
    assert.match(c.create, /sriov-node\.sh" apply/);
    assert.equal(c.update, undefined, "a change re-runs create");
    assert.match(
      c.delete,
      /s="\$\{ETC_ROOT:-\/etc\}\/kubevirt-sriov\/sriov-node\.sh"\n[\s\S]*\nbash "\$s" revert <"\$d\/state"\n'$/,
      "delete reverts with the node's copy of the script",
    );
    const patch = byType(r, "kubernetes:core/v1:NodePatch");
    assert.deepEqual(
      patch.map((p) => [p.inputs.metadata.name, p.inputs.metadata.labels["kubevirt-sriov/sriov-node"]]),
      [["k8s-node1", "true"]],
    );
  });

  it("the PBX and load generator VMs on sriov-net", () => {
    const vms = byType(r, "kubernetes:kubevirt.io/v1:VirtualMachine");
    assert.deepEqual(vms.map((v) => v.inputs.metadata.name).sort(), ["pbx", "sipp"]);
    for (const vm of vms) {
      const spec = vm.inputs.spec.template.spec;
      assert.equal(vm.inputs.spec.runStrategy, "Always");
      const sriov = spec.domain.devices.interfaces.filter((i: any) => i.sriov);
      assert.equal(sriov.length, 1);
      assert.match(sriov[0].macAddress, /^02(:[0-9a-f]{2}){5}$/);
      const net = spec.networks.find((n: any) => n.name === sriov[0].name);
      assert.equal(net.multus.networkName, "default/sriov-net");
    }
  });

  it("typed outputs: versions, images, pools, networks, KubeVirt namespace, nodes, VMs, plan", () => {
    const o = r.outputs as any;
    assert.deepEqual(o.versions, {
      multus: "v4.3.0",
      sriovDevicePlugin: "v3.11.0",
      sriovCni: "v2.10.0",
      networkResourcesInjector: "v1.9.0",
      kubevirt: "v1.9.0",
    });
    assert.equal(o.networkResourcesInjector, null);
    assert.equal(o.images.sriovCni, "ghcr.io/k8snetworkplumbingwg/sriov-cni:v2.10.0");
    assert.deepEqual(
      o.pools.map((p: any) => [p.resourceName, p.vfCount, p.nodes]),
      [
        ["intel.com/sriov_net_A", 16, [{ node: "k8s-node1", vfs: 16 }]],
        ["intel.com/sriov_net_B", 16, [{ node: "k8s-node1", vfs: 16 }]],
      ],
    );
    assert.deepEqual(o.networks, [
      {
        ref: "default/sriov-net",
        namespace: "default",
        name: "sriov-net",
        resourceName: "intel.com/sriov_net_A",
        vlan: 0,
      },
    ]);
    assert.equal(o.kubevirtNamespace, "kubevirt");
    assert.equal(o.nodes[0].node, "k8s-node1");
    assert.equal(o.nodes[0].vfioReady, true);
    assert.deepEqual(
      o.nodes[0].physicalFunctions.map((p: any) => [p.pciAddress, p.numVfs, p.drivers]),
      [
        ["0000:02:00.0", 8, ["vfio-pci"]],
        ["0000:02:00.1", 8, ["vfio-pci"]],
        ["0000:02:00.2", 8, ["vfio-pci"]],
        ["0000:02:00.3", 8, ["vfio-pci"]],
      ],
    );
    assert.deepEqual(o.vms.map((v: any) => v.name).sort(), ["pbx", "sipp"]);
    assert.equal(o.plan.feasible, true);
  });
});

describe("program under mocks: multi-node, multi-pool stack", function () {
  this.timeout(120_000);
  let r: ProgramResult;
  before(() => {
    const cfg = withLabManifest(multiNodeConfig());
    cfg.nodes[1].ssh.privateKeySecret = "opsKey";
    cfg.nodes[1].bastion.privateKeySecret = "opsKey";
    r = runProgram({
      stack: "staging",
      platform: cfg,
      config: { ...SSH_KEY_CONFIG, opsKey: { value: TEST_PRIVATE_KEY, secret: true } },
    });
    assert.equal(r.error, undefined, r.error?.message);
  });

  it("one command per node, bastion and host key wired, sudo for a non-root user", () => {
    const cmds = byType(r, "command:remote:Command").map((c) => ({
      ...c,
      inputs: { ...c.inputs, connection: unsecret(c.inputs.connection) } as Record<string, any>,
    }));
    assert.equal(cmds.length, 2);
    const a = cmds.find((c) => c.inputs.connection.host === "10.0.0.11")!;
    const b = cmds.find((c) => c.inputs.connection.host === "10.0.0.12")!;
    assert.match(a.inputs.connection.hostKey, /^ssh-ed25519 /);
    assert.equal(b.inputs.connection.port, 2222);
    assert.equal(b.inputs.connection.user, "ops");
    assert.equal(b.inputs.connection.proxy.host, "bastion.example.internal");
    assert.match(b.inputs.create, /sudo -n/, "a non-root user runs the script through sudo");
  });

  it("per-node device-plugin documents, mirrored images, three NADs with their VLANs", () => {
    const cm = k8s(r, "ConfigMap", "sriovdp-config");
    assert.deepEqual(Object.keys(cm.inputs.data).sort(), ["worker-a.json", "worker-b.json"]);
    const ds = k8s(r, "DaemonSet", "kube-sriov-device-plugin");
    assert.ok(ds.inputs.spec.template.spec.containers[0].args.includes("--config-file=/etc/pcidp/$(NODE_NAME).json"));
    assert.deepEqual(images(ds), [
      "registry.local:5000/mirror/k8snetworkplumbingwg/sriov-network-device-plugin:v3.11.0",
    ]);
    const nads = byType(r, "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition");
    assert.deepEqual(
      nads
        .map((n) => [
          n.inputs.metadata.namespace,
          n.inputs.metadata.name,
          JSON.parse(n.inputs.spec.config).vlan,
          n.inputs.metadata.annotations["k8s.v1.cni.cncf.io/resourceName"],
        ])
        .sort(),
      [
        ["default", "pods", 0, "example.com/pods_net"],
        ["voip", "media", 100, "intel.com/media_a"],
        ["voip", "sig", 200, "intel.com/signalling"],
      ],
    );
    const cr = k8s(r, "KubeVirt", "kubevirt");
    assert.equal(cr.inputs.spec.imageRegistry, "registry.local:5000/mirror/kubevirt");
    assert.deepEqual(cr.inputs.spec.infra.nodePlacement.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
  });

  it("every resource's URN chains up through SriovPlatform to the stack; component names derive from the stack", () => {
    // Mocks see no parents: the harness records the parent URN the engine got with each registration.
    const seen = (xs: { type: string; name: string }[]) => xs.map((x) => `${x.type} ${x.name}`).sort();
    assert.deepEqual(seen(r.registrations), seen(r.resources), "every resource the mocks saw was registered once");
    const byUrn = new Map(r.registrations.map((g) => [g.urn, g]));
    const parentOf = (g: Registration): Registration | undefined => {
      const parent = g.parent === "" ? undefined : byUrn.get(g.parent);
      assert.ok(g.parent === "" || parent, `${g.urn}: its parent ${g.parent} is no registered resource`);
      // A URN names its parent's type before its own: <stack>::<project>::<parent type>$<type>::<name>.
      assert.equal(g.urn, `urn:pulumi:staging::kubevirt-sriov::${parent ? `${parent.type}$` : ""}${g.type}::${g.name}`);
      return parent;
    };
    for (const g of r.registrations) {
      const chain: string[] = [];
      for (let at: Registration | undefined = g; at !== undefined; at = parentOf(at)) chain.push(at.type);
      const stack = "pulumi:pulumi:Stack";
      const top = g.type === stack ? [stack] : ["kubevirt-sriov:index:SriovPlatform", stack];
      assert.deepEqual(chain.slice(-top.length), top, `${g.urn}: parent chain ${chain.join(" < ")}`);
    }
    const components = r.resources.filter((x) => x.type.startsWith("kubevirt-sriov:"));
    assert.deepEqual([...new Set(components.map((c) => c.type))].sort(), [
      "kubevirt-sriov:cluster:Kubevirt",
      "kubevirt-sriov:cluster:Multus",
      "kubevirt-sriov:cluster:NodeLabels",
      "kubevirt-sriov:cluster:SriovCni",
      "kubevirt-sriov:cluster:SriovDevicePlugin",
      "kubevirt-sriov:cluster:SriovNetworks",
      "kubevirt-sriov:cluster:Whereabouts",
      "kubevirt-sriov:index:SriovPlatform",
      "kubevirt-sriov:node:SriovNodePrep",
      "kubevirt-sriov:voip:VoipVm",
    ]);
    assert.ok(components.every((c) => c.name.startsWith("staging")));
  });
});

describe("program under mocks: bad input", function () {
  this.timeout(120_000);

  it("an invalid config fails before any resource, as one RunError listing every problem", () => {
    const cfg = withLabManifest(multiNodeConfig());
    cfg.pools[0].name = "media-a";
    cfg.networks[1].vlan = 5000;
    const r = runProgram({ stack: "bad", platform: cfg, config: SSH_KEY_CONFIG });
    assert.equal(r.error?.name, "RunError");
    assert.match(
      r.error!.message,
      /kubevirt-sriov:platform\.pools\[0\]\.name: "media-a" has characters the device plugin refuses/,
    );
    assert.match(r.error!.message, /kubevirt-sriov:platform\.networks\[1\]\.vlan: VLAN 5000 is outside 0–4094/);
    assert.deepEqual(
      r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"),
      [],
    );
  });

  it("VMs needing more VFs than exist fail with the pool, the demand and the supply", () => {
    const cfg = withLabManifest(loadStackConfig("kubecon-demo"));
    cfg.nodes[0].physicalFunctions[0].numVfs = 0;
    cfg.nodes[0].physicalFunctions[2].numVfs = 1;
    cfg.vms.push({ name: "pbx2", role: "pbx", interfaces: [{ network: "sriov-net", address: "10.56.217.11/24" }] });
    const r = runProgram({ stack: "short", platform: cfg, config: SSH_KEY_CONFIG });
    assert.equal(r.error?.name, "RunError");
    assert.match(
      r.error!.message,
      /kubevirt-sriov:platform\.pools\[0\]: pool "sriov_net_A": VMs request 3 VFs but the nodes supply 1 — /,
    );
    assert.match(r.error!.message, /VM default\/pbx2 fits on no node/);
    assert.deepEqual(
      r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"),
      [],
    );
  });

  it("a missing secret and a plaintext secret are refused by name", () => {
    const r1 = runProgram({ stack: "nosecret", platform: withLabManifest(loadStackConfig("kubecon-demo")) });
    assert.equal(r1.error?.name, "RunError");
    assert.match(
      r1.error!.message,
      /kubevirt-sriov:sshPrivateKey: not set \(needed by nodes\[0\]\.ssh\) — run: pulumi config set --secret kubevirt-sriov:sshPrivateKey -- /,
    );
    const r2 = runProgram({
      stack: "plain",
      platform: withLabManifest(loadStackConfig("kubecon-demo")),
      config: { sshPrivateKey: { value: TEST_PRIVATE_KEY, secret: false } },
    });
    assert.match(r2.error!.message, /sshPrivateKey: is stored in plaintext/);
    assert.deepEqual(
      r2.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"),
      [],
    );
  });

  it("a tampered operator manifest is refused before any resource", () => {
    const cfg = loadStackConfig("kubecon-demo") as Record<string, any>;
    cfg.kubevirt = { operatorManifest: { file: LAB_MANIFEST, sha256: "0".repeat(64) } };
    const r = runProgram({ stack: "tampered", platform: cfg, config: SSH_KEY_CONFIG });
    assert.equal(r.error?.name, "RunError");
    assert.match(
      r.error!.message,
      /kubevirt\.operatorManifest: the KubeVirt v1\.9\.0 operator manifest from .* has SHA-256 [0-9a-f]{64}, expected 0{64} — /,
    );
    assert.deepEqual(
      r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack"),
      [],
    );
  });
});
