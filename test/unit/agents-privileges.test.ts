// What the node agents may do, under mocks: Multus gets only the RBAC its thick daemon uses, the
// device plugin and the SR-IOV CNI get no service-account token, and the host-access policy
// passes every workload the program registers when the pack is told the stack's agentNamespace
// (and flags the agents, naming the fix, when it is not).
import { strict as assert } from "assert";
import { MULTUS_RBAC_RULES } from "../../components/multus";
import { hostAccessOf, hostAccessOnlyForNodeAgents } from "../../policies/rules/hostAccess";
import { isPodBearing, podSpecOf } from "../../policies/rules/common";
import { multiNodeConfig } from "../fixtures/stacks";
import { k8s, runProgram, SSH_KEY_CONFIG, withLabManifest } from "../harness/program";
import type { ProgramResult } from "../harness/runProgram";
import { runResource } from "../harness/policy";

function render(stack: string, edit: (cfg: any) => void): ProgramResult {
  const cfg = withLabManifest(multiNodeConfig());
  edit(cfg);
  const r = runProgram({ stack, platform: cfg, config: SSH_KEY_CONFIG });
  assert.equal(r.error, undefined, r.error?.message);
  return r;
}

const podSpec = (r: ProgramResult, name: string) => k8s(r, "DaemonSet", name).inputs.spec.template.spec;

/** Every violation of the host-access policy over the program's resources, by workload. */
async function hostAccessViolations(r: ProgramResult, config: object): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const x of r.resources.filter((res) => isPodBearing(res.type))) {
    const v = (await runResource(hostAccessOnlyForNodeAgents, { type: x.type, props: x.inputs, name: x.name }, config))
      .violations;
    if (v.length > 0) out[`${x.inputs.metadata?.namespace}/${x.inputs.metadata?.name}`] = v;
  }
  return out;
}

describe("node agents' privileges under mocks (agentNamespace sriov-agents, whereabouts and the injector on)", function () {
  this.timeout(120_000);
  let r: ProgramResult;
  before(() => {
    r = render("privileges", (c) => {
      c.agentNamespace = "sriov-agents";
      c.kubevirt.networkResourcesInjector = true;
    });
  });

  it("Multus: the ClusterRole grants what the thick daemon calls, nothing more", () => {
    const rules = k8s(r, "ClusterRole", "multus").inputs.rules;
    assert.deepEqual(rules, [
      {
        apiGroups: ["k8s.cni.cncf.io"],
        resources: ["network-attachment-definitions"],
        verbs: ["get", "list", "watch"],
      },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["pods/status"], verbs: ["update"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    ]);
    assert.deepEqual(rules, MULTUS_RBAC_RULES);
    const all = JSON.stringify(rules);
    assert.ok(!all.includes('"*"'), "no wildcard");
    // Reads on pods and NADs; the only writes are the network-status annotation and events.
    const writes = rules.filter((x: { verbs: string[] }) => x.verbs.some((v) => !["get", "list", "watch"].includes(v)));
    assert.deepEqual(
      writes.map((x: { resources: string[] }) => x.resources[0]),
      ["pods/status", "events"],
    );
    assert.deepEqual(k8s(r, "ClusterRoleBinding", "multus").inputs.subjects, [
      { kind: "ServiceAccount", name: "multus", namespace: "sriov-agents" },
    ]);
  });

  it("Multus keeps its token (it is its API client); the device plugin and the SR-IOV CNI get none", () => {
    assert.notEqual(podSpec(r, "kube-multus-ds").automountServiceAccountToken, false);
    assert.equal(podSpec(r, "kube-sriov-device-plugin").automountServiceAccountToken, false);
    assert.equal(
      podSpec(r, "kube-sriov-device-plugin").serviceAccountName,
      "sriov-device-plugin",
      "the service account stays, as upstream names it",
    );
    assert.equal(podSpec(r, "kube-sriov-cni-ds").automountServiceAccountToken, false);
  });

  it("the agents ask for host access, each as much as upstream's manifest", () => {
    const access = (name: string) =>
      hostAccessOf(podSpecOf("kubernetes:apps/v1:DaemonSet", k8s(r, "DaemonSet", name).inputs)!);
    // Upstream mounts the host's / without readOnly (the daemon runs delegate plugins in it).
    assert.ok(access("kube-multus-ds").includes("hostPath volume hostroot (/, writable)"));
    assert.deepEqual(access("kube-sriov-cni-ds"), ["hostPath volume cnibin (/opt/cni/bin, writable)"]);
    assert.ok(access("whereabouts").includes("hostPath volume cnibin (/opt/cni/bin, writable)"));
  });

  it("host-access policy told agentNamespace sriov-agents: every workload of the program passes", async () => {
    const workloads = r.resources
      .filter((x) => isPodBearing(x.type))
      .map((x) => `${x.inputs.metadata?.namespace}/${x.inputs.metadata?.name}`);
    for (const w of [
      "kube-multus-ds",
      "kube-sriov-device-plugin",
      "kube-sriov-cni-ds",
      "whereabouts",
      "whereabouts-reconciler",
      "network-resources-injector",
    ]) {
      assert.ok(
        workloads.includes(`sriov-agents/${w}`),
        `${w} is among the workloads checked: ${workloads.join(", ")}`,
      );
    }
    assert.deepEqual(await hostAccessViolations(r, { agentNamespace: "sriov-agents" }), {});
  });

  it("host-access policy left at kube-system: exactly the four agents are flagged, each naming the setting", async () => {
    const flagged = await hostAccessViolations(r, {});
    assert.deepEqual(Object.keys(flagged).sort(), [
      "sriov-agents/kube-multus-ds",
      "sriov-agents/kube-sriov-cni-ds",
      "sriov-agents/kube-sriov-device-plugin",
      "sriov-agents/whereabouts",
    ]);
    for (const [workload, v] of Object.entries(flagged)) {
      assert.equal(v.length, 1, workload);
      assert.match(
        v[0],
        /\{"host-access-only-for-node-agents": \{"agentNamespace": "sriov-agents"\}\} in --policy-pack-config$/,
        workload,
      );
    }
  });
});

describe("node agents' privileges under mocks (default agentNamespace)", function () {
  this.timeout(120_000);
  it("the host-access policy at its defaults passes every workload of the program", async () => {
    const r = render("privileges-default", () => undefined);
    assert.equal(k8s(r, "DaemonSet", "kube-sriov-cni-ds").inputs.metadata.namespace, "kube-system");
    assert.deepEqual(await hostAccessViolations(r, {}), {});
  });
});
