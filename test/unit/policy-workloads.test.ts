import * as assert from "assert";
import { hostAccessOnlyForNodeAgents } from "../../policies/rules/hostAccess";
import { imageProblem, parseImage, pinnedImages } from "../../policies/rules/images";
import { podWorkload, runResource, T, vmiProps, vmProps } from "../harness/policy";

const DIGEST = "sha256:" + "a".repeat(64);

describe("policy pinned-images", () => {
  it("parses registry ports, tags and digests", () => {
    assert.deepStrictEqual(parseImage("registry.local:5000/mirror/multus-cni:v4.3.0-thick"), {
      repository: "registry.local:5000/mirror/multus-cni",
      tag: "v4.3.0-thick",
      digest: undefined,
    });
    assert.deepStrictEqual(parseImage("registry.local:5000/x"), {
      repository: "registry.local:5000/x",
      tag: undefined,
      digest: undefined,
    });
    assert.deepStrictEqual(parseImage(`nginx@${DIGEST}`), { repository: "nginx", tag: undefined, digest: DIGEST });
  });

  const table: [string, boolean, string | undefined][] = [
    ["ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0-thick", false, undefined],
    ["quay.io/containerdisks/ubuntu:24.04", false, undefined],
    [`ghcr.io/x/y@${DIGEST}`, false, undefined],
    ["ghcr.io/x/y:latest", false, 'uses the moving tag "latest"'],
    ["ghcr.io/x/y:snapshot", false, 'uses the moving tag "snapshot"'],
    ["ghcr.io/x/y", false, "has no tag (it means :latest)"],
    ["registry.local:5000/y", false, "has no tag"],
    ["ghcr.io/x/y:stable-ish", false, 'has tag "stable-ish", which is not a version'],
    ["ghcr.io/x/y@sha256:abc", false, "malformed digest"],
    ["ghcr.io/x/y:v1.2.3", true, "has no digest, and requireDigests is on"],
    [`ghcr.io/x/y:v1.2.3@${DIGEST}`, true, undefined],
  ];
  for (const [image, requireDigests, problem] of table) {
    it(`${image}${requireDigests ? " (requireDigests)" : ""} → ${problem ?? "ok"}`, () => {
      const got = imageProblem(image, { requireDigests });
      if (problem === undefined) assert.strictEqual(got, undefined);
      else assert.ok(got?.includes(problem), got);
    });
  }

  it("flags unpinned containers of a DaemonSet, init containers included", async () => {
    const props = podWorkload("kube-multus-ds", "kube-system", {
      initContainers: [{ name: "install", image: "ghcr.io/k8snetworkplumbingwg/multus-cni:latest" }],
      containers: [
        { name: "multus", image: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0-thick" },
        { name: "sidecar", image: "busybox" },
      ],
    });
    const out = await runResource(pinnedImages, { type: T.daemonSet, props });
    assert.strictEqual(out.violations.length, 2);
    assert.match(out.violations[0], /^initContainers\[0\] \(install\): image ".*:latest" uses the moving tag "latest"/);
    assert.match(out.violations[1], /^containers\[1\] \(sidecar\): image "busybox" has no tag/);
  });

  it("passes pinned workloads, and asks for digests only with requireDigests", async () => {
    const props = podWorkload("agent", "kube-system", {
      containers: [{ name: "a", image: "ghcr.io/x/agent:v3.11.0" }],
    });
    assert.deepStrictEqual((await runResource(pinnedImages, { type: T.deployment, props })).violations, []);
    const strict = await runResource(pinnedImages, { type: T.deployment, props }, { requireDigests: true });
    assert.strictEqual(strict.violations.length, 1);
  });

  it("checks VM and VMI containerDisks", async () => {
    assert.deepStrictEqual((await runResource(pinnedImages, { type: T.vm, props: vmProps() })).violations, []);
    const bad = await runResource(pinnedImages, {
      type: T.vmi,
      props: vmiProps({ image: "quay.io/containerdisks/fedora" }),
    });
    assert.deepStrictEqual(bad.violations.length, 1);
    assert.match(
      bad.violations[0],
      /^volumes\[0\] \(rootdisk\) containerDisk: image "quay.io\/containerdisks\/fedora" has no tag/,
    );
  });

  it("is not applicable to resources without images", async () => {
    const out = await runResource(pinnedImages, { type: T.configMap, props: { data: {} } });
    assert.ok(out.notApplicable !== undefined);
  });
});

describe("policy host-access-only-for-node-agents", () => {
  const multus = podWorkload("kube-multus-ds", "kube-system", {
    hostNetwork: true,
    hostPID: true,
    containers: [{ name: "m", image: "x:v1", securityContext: { privileged: true } }],
  });
  const check = async (type: string, props: Record<string, unknown>, config: object = {}) =>
    (await runResource(hostAccessOnlyForNodeAgents, { type, props }, config)).violations;
  /** An unprivileged pod spec with one hostPath volume, mounted as given. */
  const withHostPath = (path: string, mounts: { readOnly?: boolean }[]) => ({
    containers: mounts.map((m, i) => ({
      name: `c${i}`,
      image: "x:v1",
      volumeMounts: [{ name: "host", mountPath: "/host", ...m }],
    })),
    volumes: [{ name: "host", hostPath: { path } }],
  });

  it("allows the Multus and device-plugin DaemonSets by name and namespace", async () => {
    assert.deepStrictEqual(await check(T.daemonSet, multus), []);
    const dp = podWorkload("kube-sriov-device-plugin", "kube-system", {
      hostNetwork: true,
      containers: [{ name: "d", image: "x:v1", securityContext: { privileged: true } }],
    });
    assert.deepStrictEqual(await check(T.daemonSet, dp), []);
  });

  it("refuses the same agent in another namespace, and any other privileged workload", async () => {
    const moved = podWorkload(
      "kube-multus-ds",
      "default",
      (multus.spec as { template: { spec: Record<string, unknown> } }).template.spec,
    );
    assert.deepStrictEqual(await check(T.daemonSet, moved), [
      'default/kube-multus-ds asks for hostNetwork, hostPID, privileged containers[0] (m), but only kube-system/kube-multus-ds, kube-system/kube-sriov-device-plugin, kube-system/kube-sriov-cni-ds, kube-system/whereabouts may — drop it, or add the workload to this policy\'s allowlist in the stack\'s policy config; if this stack\'s agentNamespace is "default", give the pack the same: {"host-access-only-for-node-agents": {"agentNamespace": "default"}} in --policy-pack-config',
    ]);
    const sneaky = podWorkload("web", "default", {
      containers: [{ name: "w", image: "x:v1", securityContext: { privileged: true } }],
    });
    const out = await check(T.deployment, sneaky);
    assert.strictEqual(out.length, 1);
    assert.doesNotMatch(out[0], /agentNamespace/, "no hint for a workload that is not one of the agents");
  });

  it("counts hostPath volumes: names the volume and path, and says whether a container can write to it", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [withHostPath("/var/log", [{}]), "hostPath volume host (/var/log, writable)"],
      [
        withHostPath("/var/log", [{ readOnly: true }, { readOnly: false }]),
        "hostPath volume host (/var/log, writable)",
      ],
      [withHostPath("/etc", [{ readOnly: true }, { readOnly: true }]), "hostPath volume host (/etc, read-only)"],
      [withHostPath("/", []), "hostPath volume host (/, not mounted)"],
    ];
    for (const [spec, says] of cases) {
      const out = await check(T.deployment, podWorkload("web", "default", spec));
      assert.deepStrictEqual(out, [
        `default/web asks for ${says}, but only kube-system/kube-multus-ds, kube-system/kube-sriov-device-plugin, kube-system/kube-sriov-cni-ds, kube-system/whereabouts may — drop it, or add the workload to this policy's allowlist in the stack's policy config`,
      ]);
    }
    // Init and ephemeral containers count as writers too.
    const init = {
      initContainers: [{ name: "i", image: "x:v1", volumeMounts: [{ name: "host", mountPath: "/h" }] }],
      containers: [{ name: "c", image: "x:v1" }],
      volumes: [{ name: "host", hostPath: { path: "/opt/cni/bin", type: "Directory" } }],
    };
    assert.match(
      (await check(T.daemonSet, podWorkload("x", "default", init)))[0],
      /hostPath volume host \(\/opt\/cni\/bin, writable\)/,
    );
    // Other volume kinds are no host access.
    const emptyDir = {
      containers: [{ name: "c", image: "x:v1", volumeMounts: [{ name: "tmp", mountPath: "/tmp" }] }],
      volumes: [
        { name: "tmp", emptyDir: {} },
        { name: "cfg", configMap: { name: "c" } },
      ],
    };
    assert.deepStrictEqual(await check(T.deployment, podWorkload("web", "default", emptyDir)), []);
  });

  it("allows the SR-IOV CNI's writable /opt/cni/bin (it installs the plugin there), in the agent namespace only", async () => {
    const cni = podWorkload("kube-sriov-cni-ds", "kube-system", withHostPath("/opt/cni/bin", [{}]));
    assert.deepStrictEqual(await check(T.daemonSet, cni), []);
    assert.strictEqual(
      (await check(T.daemonSet, podWorkload("kube-sriov-cni-ds", "default", withHostPath("/opt/cni/bin", [{}]))))
        .length,
      1,
    );
  });

  it("follows agentNamespace from the policy config: the agents there pass, the same names elsewhere do not", async () => {
    const inAgents = podWorkload(
      "kube-multus-ds",
      "sriov-agents",
      (multus.spec as { template: { spec: Record<string, unknown> } }).template.spec,
    );
    const config = { agentNamespace: "sriov-agents" };
    assert.deepStrictEqual(await check(T.daemonSet, inAgents, config), []);
    assert.strictEqual(
      (await check(T.daemonSet, multus, config)).length,
      1,
      "kube-system is no longer the agents' namespace",
    );
    // Without the config, the pack's default (kube-system) flags them and says what to set.
    const flagged = await check(T.daemonSet, inAgents);
    assert.strictEqual(flagged.length, 1);
    assert.match(
      flagged[0],
      /\{"host-access-only-for-node-agents": \{"agentNamespace": "sriov-agents"\}\} in --policy-pack-config$/,
    );
    // The label our agents carry opens nothing: only name and namespace do.
    const copycat = podWorkload("miner", "sriov-agents", { hostPID: true, containers: [{ name: "m", image: "x:v1" }] });
    (copycat.metadata as Record<string, unknown>).labels = {
      "app.kubernetes.io/part-of": "kubevirt-sriov",
      app: "multus",
      name: "multus",
    };
    assert.strictEqual((await check(T.daemonSet, copycat, config)).length, 1);
  });

  it("the engine fills in agentNamespace kube-system, and no allowlist that would shadow it", () => {
    const props = hostAccessOnlyForNodeAgents.configSchema!.properties as Record<string, { default?: unknown }>;
    assert.strictEqual(props.agentNamespace.default, "kube-system");
    assert.strictEqual(props.allowlist.default, undefined);
  });

  it("takes the allowlist from the policy config", async () => {
    const agent = podWorkload("kube-multus-ds", "net-agents", {
      hostNetwork: true,
      containers: [{ name: "m", image: "x:v1" }],
    });
    const allowlist = [{ name: "kube-multus-ds", namespace: "net-agents" }];
    assert.deepStrictEqual(await check(T.daemonSet, agent, { allowlist }), []);
    assert.strictEqual((await check(T.daemonSet, multus, { allowlist })).length, 1);
    // An explicit allowlist replaces the agents of agentNamespace.
    assert.strictEqual((await check(T.daemonSet, agent, { allowlist: [], agentNamespace: "net-agents" })).length, 1);
  });

  it("passes unprivileged workloads without hostPath, and skips non-workloads", async () => {
    const cni = podWorkload("kube-sriov-cni-ds", "kube-system", {
      containers: [
        { name: "c", image: "x:v1", securityContext: { privileged: false, capabilities: { drop: ["ALL"] } } },
      ],
    });
    assert.deepStrictEqual(await check(T.daemonSet, cni), []);
    assert.deepStrictEqual(
      await check(T.deployment, podWorkload("web", "default", { containers: [{ name: "c", image: "x:v1" }] })),
      [],
    );
    assert.ok(
      (await runResource(hostAccessOnlyForNodeAgents, { type: T.vm, props: vmProps() })).notApplicable !== undefined,
    );
  });
});
