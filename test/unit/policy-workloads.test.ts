import * as assert from "assert";
import { hostAccessOnlyForNodeAgents } from "../../policies/rules/hostAccess";
import { imageProblem, parseImage, pinnedImages } from "../../policies/rules/images";
import { podWorkload, runResource, T, vmiProps, vmProps } from "./policy-support";

const DIGEST = "sha256:" + "a".repeat(64);

describe("policy pinned-images", () => {
  it("parses registry ports, tags and digests", () => {
    assert.deepStrictEqual(parseImage("registry.local:5000/mirror/multus-cni:v4.3.0-thick"), { repository: "registry.local:5000/mirror/multus-cni", tag: "v4.3.0-thick", digest: undefined });
    assert.deepStrictEqual(parseImage("registry.local:5000/x"), { repository: "registry.local:5000/x", tag: undefined, digest: undefined });
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
      containers: [{ name: "multus", image: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0-thick" }, { name: "sidecar", image: "busybox" }],
    });
    const out = await runResource(pinnedImages, { type: T.daemonSet, props });
    assert.strictEqual(out.violations.length, 2);
    assert.match(out.violations[0], /^initContainers\[0\] \(install\): image ".*:latest" uses the moving tag "latest"/);
    assert.match(out.violations[1], /^containers\[1\] \(sidecar\): image "busybox" has no tag/);
  });

  it("passes pinned workloads, and asks for digests only with requireDigests", async () => {
    const props = podWorkload("agent", "kube-system", { containers: [{ name: "a", image: "ghcr.io/x/agent:v3.11.0" }] });
    assert.deepStrictEqual((await runResource(pinnedImages, { type: T.deployment, props })).violations, []);
    const strict = await runResource(pinnedImages, { type: T.deployment, props }, { requireDigests: true });
    assert.strictEqual(strict.violations.length, 1);
  });

  it("checks VM and VMI containerDisks", async () => {
    assert.deepStrictEqual((await runResource(pinnedImages, { type: T.vm, props: vmProps() })).violations, []);
    const bad = await runResource(pinnedImages, { type: T.vmi, props: vmiProps({ image: "quay.io/containerdisks/fedora" }) });
    assert.deepStrictEqual(bad.violations.length, 1);
    assert.match(bad.violations[0], /^volumes\[0\] \(rootdisk\) containerDisk: image "quay.io\/containerdisks\/fedora" has no tag/);
  });

  it("is not applicable to resources without images", async () => {
    const out = await runResource(pinnedImages, { type: T.configMap, props: { data: {} } });
    assert.ok(out.notApplicable !== undefined);
  });
});

describe("policy host-access-only-for-node-agents", () => {
  const multus = podWorkload("kube-multus-ds", "kube-system", { hostNetwork: true, hostPID: true, containers: [{ name: "m", image: "x:v1", securityContext: { privileged: true } }] });

  it("allows the Multus and device-plugin DaemonSets by name and namespace", async () => {
    assert.deepStrictEqual((await runResource(hostAccessOnlyForNodeAgents, { type: T.daemonSet, props: multus })).violations, []);
    const dp = podWorkload("kube-sriov-device-plugin", "kube-system", { hostNetwork: true, containers: [{ name: "d", image: "x:v1", securityContext: { privileged: true } }] });
    assert.deepStrictEqual((await runResource(hostAccessOnlyForNodeAgents, { type: T.daemonSet, props: dp })).violations, []);
  });

  it("refuses the same agent in another namespace, and any other privileged workload", async () => {
    const moved = podWorkload("kube-multus-ds", "default", (multus.spec as { template: { spec: Record<string, unknown> } }).template.spec);
    const out = await runResource(hostAccessOnlyForNodeAgents, { type: T.daemonSet, props: moved });
    assert.deepStrictEqual(out.violations, [
      "default/kube-multus-ds asks for hostNetwork, hostPID, privileged containers[0] (m), but only kube-system/kube-multus-ds, kube-system/kube-sriov-device-plugin, kube-system/whereabouts may — drop it, or add the workload to this policy's allowlist in the stack's policy config",
    ]);
    const sneaky = podWorkload("web", "default", { containers: [{ name: "w", image: "x:v1", securityContext: { privileged: true } }] });
    assert.strictEqual((await runResource(hostAccessOnlyForNodeAgents, { type: T.deployment, props: sneaky })).violations.length, 1);
  });

  it("takes the allowlist from the policy config", async () => {
    const agent = podWorkload("kube-multus-ds", "net-agents", { hostNetwork: true, containers: [{ name: "m", image: "x:v1" }] });
    const allowlist = [{ name: "kube-multus-ds", namespace: "net-agents" }];
    assert.deepStrictEqual((await runResource(hostAccessOnlyForNodeAgents, { type: T.daemonSet, props: agent }, { allowlist })).violations, []);
    assert.strictEqual((await runResource(hostAccessOnlyForNodeAgents, { type: T.daemonSet, props: multus }, { allowlist })).violations.length, 1);
  });

  it("passes unprivileged workloads and skips non-workloads", async () => {
    const cni = podWorkload("kube-sriov-cni-ds", "kube-system", { containers: [{ name: "c", image: "x:v1", securityContext: { privileged: false, capabilities: { drop: ["ALL"] } } }] });
    assert.deepStrictEqual((await runResource(hostAccessOnlyForNodeAgents, { type: T.daemonSet, props: cni })).violations, []);
    assert.ok((await runResource(hostAccessOnlyForNodeAgents, { type: T.vm, props: vmProps() })).notApplicable !== undefined);
  });
});
