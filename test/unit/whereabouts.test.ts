// Whereabouts IPAM: the renderer (plain objects, no mocks) against what upstream v0.9.4 ships,
// the host-access policy on its DaemonSet, and the whole program under mocks: deployed when a
// network uses `ipam.type: whereabouts`, absent when none does.
import { strict as assert } from "assert";
import { parsePlatform } from "../../config/validate";
import { DEFAULT_VERSIONS } from "../../config/versions";
import { hostAccessOnlyForNodeAgents } from "../../policies/rules/hostAccess";
import { imageProblem } from "../../policies/rules/images";
import { whereaboutsImage } from "../../render/images";
import { renderNad } from "../../render/nad";
import {
  renderWhereaboutsConfigMap,
  renderWhereaboutsCrds,
  renderWhereaboutsDaemonSet,
  renderWhereaboutsReconciler,
  usesWhereabouts,
  WHEREABOUTS,
  WHEREABOUTS_DAEMON_SCRIPT,
  WHEREABOUTS_IMAGE,
  whereaboutsClusterRoleRules,
} from "../../render/whereabouts";
import { multiNodeConfig } from "../fixtures/stacks";
import { loadStackConfig } from "../harness/stacks";
import { k8s, runProgram, SSH_KEY_CONFIG as secretKey, withLabManifest } from "../harness/program";
import type { ProgramResult } from "../harness/runProgram";
import { runResource, T } from "../harness/policy";

const IMAGE = "ghcr.io/k8snetworkplumbingwg/whereabouts:v0.9.4";
const MIRROR = "registry.local:5000/mirror";

describe("whereabouts renderer", () => {
  const ds = renderWhereaboutsDaemonSet({ namespace: "net-agents", image: IMAGE });
  const rec = renderWhereaboutsReconciler({ namespace: "net-agents", image: IMAGE });
  const dsPod = ds.spec.template.spec;
  const recPod = rec.spec.template.spec;

  it("pins v0.9.4 (the newest v0.9.x tag) in ghcr.io/k8snetworkplumbingwg/whereabouts, never latest", () => {
    assert.equal(DEFAULT_VERSIONS.whereabouts, "v0.9.4");
    assert.equal(whereaboutsImage({}), IMAGE);
    assert.equal(imageProblem(whereaboutsImage({}), {}), undefined, "the pinned-images policy accepts it");
    assert.deepEqual(
      [...dsPod.containers, ...recPod.containers].map((c) => c.image),
      [IMAGE, IMAGE],
    );
  });

  it("moves the image to registryMirror like every agent image", () => {
    assert.equal(whereaboutsImage({ registryMirror: MIRROR }), `${MIRROR}/k8snetworkplumbingwg/whereabouts:v0.9.4`);
    assert.equal(
      whereaboutsImage({ registryMirror: `${MIRROR}/` }),
      `${MIRROR}/k8snetworkplumbingwg/whereabouts:v0.9.4`,
    );
  });

  it("runs in the agent namespace and keeps its pools there (WHEREABOUTS_NAMESPACE from the pod's namespace)", () => {
    assert.equal(ds.metadata.namespace, "net-agents");
    assert.equal(rec.metadata.namespace, "net-agents");
    assert.equal(renderWhereaboutsConfigMap("net-agents").metadata.namespace, "net-agents");
    for (const c of [...dsPod.containers, ...recPod.containers]) {
      const env = c.env.find((e) => e.name === "WHEREABOUTS_NAMESPACE");
      assert.deepEqual(env?.valueFrom, { fieldRef: { fieldPath: "metadata.namespace" } }, c.name);
    }
  });

  it("CRDs: IPPool and OverlappingRangeIPReservation, whereabouts.cni.cncf.io/v1alpha1, namespaced, upstream's required fields", () => {
    const crds = renderWhereaboutsCrds();
    assert.deepEqual(
      crds.map((c) => [
        c.metadata.name,
        c.spec.group,
        c.spec.scope,
        c.spec.names.kind,
        c.spec.names.listKind,
        c.spec.names.singular,
      ]),
      [
        ["ippools.whereabouts.cni.cncf.io", "whereabouts.cni.cncf.io", "Namespaced", "IPPool", "IPPoolList", "ippool"],
        [
          "overlappingrangeipreservations.whereabouts.cni.cncf.io",
          "whereabouts.cni.cncf.io",
          "Namespaced",
          "OverlappingRangeIPReservation",
          "OverlappingRangeIPReservationList",
          "overlappingrangeipreservation",
        ],
      ],
    );
    for (const c of crds) {
      assert.equal(c.metadata.name, `${c.spec.names.plural}.${c.spec.group}`);
      assert.deepEqual(
        c.spec.versions.map((v) => [v.name, v.served, v.storage]),
        [["v1alpha1", true, true]],
      );
    }
    const schema = (i: number) => crds[i].spec.versions[0].schema.openAPIV3Schema as any;
    const pool = schema(0).properties.spec;
    assert.deepEqual(pool.required, ["allocations", "range"]);
    assert.equal(pool.properties.range.type, "string");
    assert.deepEqual(pool.properties.allocations.additionalProperties.required, ["id", "podref"]);
    assert.deepEqual(Object.keys(pool.properties.allocations.additionalProperties.properties).sort(), [
      "id",
      "ifname",
      "podref",
    ]);
    const orip = schema(1);
    assert.deepEqual(orip.required, ["spec"]);
    assert.deepEqual(orip.properties.spec.required, ["podref"]);
    assert.deepEqual(Object.keys(orip.properties.spec.properties).sort(), ["containerid", "ifname", "podref"]);
  });

  it("DaemonSet as upstream: script, env, host mounts, privileged on the host network, resources", () => {
    assert.equal(ds.metadata.name, "whereabouts");
    assert.deepEqual(ds.spec.selector.matchLabels, { name: "whereabouts" });
    assert.equal(dsPod.hostNetwork, true);
    assert.equal(dsPod.serviceAccountName, "whereabouts");
    const c = dsPod.containers[0];
    assert.deepEqual(c.command, ["/bin/sh"]);
    assert.deepEqual(c.args, [
      "-c",
      "SLEEP=false source /install-cni.sh\n/token-watcher.sh &\n/ip-control-loop -log-level debug\n",
    ]);
    assert.deepEqual(
      c.env.map((e) => [e.name, e.valueFrom.fieldRef.fieldPath]),
      [
        ["NODENAME", "spec.nodeName"],
        ["WHEREABOUTS_NAMESPACE", "metadata.namespace"],
      ],
    );
    assert.deepEqual(c.securityContext, { privileged: true });
    assert.deepEqual(c.resources, {
      requests: { cpu: "100m", memory: "100Mi" },
      limits: { cpu: "100m", memory: "200Mi" },
    });
    assert.deepEqual(c.volumeMounts, [
      { name: "cnibin", mountPath: "/host/opt/cni/bin" },
      { name: "cni-net-dir", mountPath: "/host/etc/cni/net.d" },
    ]);
    assert.deepEqual(dsPod.volumes, [
      { name: "cnibin", hostPath: { path: "/opt/cni/bin" } },
      { name: "cni-net-dir", hostPath: { path: "/etc/cni/net.d" } },
    ]);
    // Our deliberate differences: SR-IOV nodes only, NoExecute tolerated too, node-critical.
    assert.deepEqual(dsPod.nodeSelector, { "kubevirt-sriov/sriov-node": "true", "kubernetes.io/os": "linux" });
    assert.deepEqual(
      dsPod.tolerations.map((t) => t.effect),
      ["NoSchedule", "NoExecute"],
    );
    assert.equal(dsPod.priorityClassName, "system-node-critical");
  });

  it("ip-reconciler: one replica (Recreate), /ip-reconciler on the ConfigMap's cron schedule", () => {
    assert.equal(rec.metadata.name, "whereabouts-reconciler");
    assert.equal(rec.spec.replicas, 1);
    assert.equal(rec.spec.strategy.type, "Recreate");
    const c = recPod.containers[0];
    assert.deepEqual([c.command, c.args], [["/ip-reconciler"], ["-log-level", "debug"]]);
    assert.deepEqual(c.volumeMounts, [{ name: "cron-scheduler-configmap", mountPath: "/cron-schedule" }]);
    assert.deepEqual(recPod.volumes[0].configMap, {
      name: "whereabouts-config",
      defaultMode: 0o744,
      items: [{ key: "cron-expression", path: "config" }],
    });
    assert.equal((recPod as Record<string, unknown>).hostNetwork, undefined);
    assert.equal((c as Record<string, unknown>).securityContext, undefined);
    assert.deepEqual(renderWhereaboutsConfigMap("x").data, { "cron-expression": "30 4 * * *" });
  });

  it("every command is in the image (upstream Dockerfile: binaries and scripts at /)", () => {
    const run = [
      dsPod.containers[0].command[0],
      recPod.containers[0].command[0],
      ...WHEREABOUTS_DAEMON_SCRIPT.match(/\/[a-z-]+(\.sh)?/g)!,
    ];
    for (const p of run)
      assert.ok((WHEREABOUTS_IMAGE.executables as readonly string[]).includes(p), `${p} is not in the image`);
  });

  it("RBAC: the ClusterRole may write both CRDs' kinds, read NADs, pods and nodes", () => {
    const rules = whereaboutsClusterRoleRules();
    const may = (group: string, resource: string, verb: string) =>
      rules.some(
        (r) =>
          r.apiGroups.includes(group) &&
          r.resources.includes(resource) &&
          (r.verbs.includes(verb) || r.verbs.includes("*")),
      );
    for (const crd of renderWhereaboutsCrds())
      for (const verb of ["create", "update", "delete", "watch"])
        assert.ok(may(WHEREABOUTS.group, crd.spec.names.plural, verb), `${crd.spec.names.plural} ${verb}`);
    assert.ok(may("k8s.cni.cncf.io", "network-attachment-definitions", "list"));
    assert.ok(may("", "pods", "watch"));
    assert.ok(may("", "nodes", "get"));
    assert.ok(may("coordination.k8s.io", "leases", "create"));
    assert.ok(!may("", "secrets", "get"));
  });

  it("deployed only when a network uses it", () => {
    const multi = parsePlatform(multiNodeConfig());
    assert.equal(usesWhereabouts(multi.networks.values()), true);
    assert.equal(JSON.parse(renderNad(multi.networks.get("default/pods")!).spec.config).ipam.type, "whereabouts");
    assert.equal(usesWhereabouts(parsePlatform(loadStackConfig("kubecon-demo")).networks.values()), false);
    const cfg = multiNodeConfig() as any;
    cfg.networks[2].ipam = { type: "host-local", subnet: "10.10.0.0/16" };
    assert.equal(usesWhereabouts(parsePlatform(cfg).networks.values()), false);
  });

  it("the host-access policy allows its DaemonSet in kube-system, and only under its name", async () => {
    const props = renderWhereaboutsDaemonSet({ namespace: "kube-system", image: IMAGE });
    assert.deepEqual((await runResource(hostAccessOnlyForNodeAgents, { type: T.daemonSet, props })).violations, []);
    const other = { ...props, metadata: { ...props.metadata, name: "not-whereabouts" } };
    assert.equal(
      (await runResource(hostAccessOnlyForNodeAgents, { type: T.daemonSet, props: other })).violations.length,
      1,
    );
    // The reconciler needs no host access at all.
    assert.deepEqual(
      (
        await runResource(hostAccessOnlyForNodeAgents, {
          type: T.deployment,
          props: renderWhereaboutsReconciler({ namespace: "kube-system", image: IMAGE }),
        })
      ).violations,
      [],
    );
  });
});

// ---- the whole program under mocks ------------------------------------------------------

function stackConfig(edit: (cfg: any) => void): Record<string, any> {
  const cfg = withLabManifest(multiNodeConfig());
  edit(cfg);
  return cfg;
}

type Res = ProgramResult["resources"][number];
const isWhereabouts = (x: Res): boolean =>
  x.type === "kubevirt-sriov:cluster:Whereabouts" || JSON.stringify(x.inputs.metadata ?? {}).includes("whereabouts");

describe("program under mocks: whereabouts", function () {
  this.timeout(180_000);

  describe("a network with ipam.type whereabouts (agentNamespace net-agents, registry mirror, no waiting)", () => {
    let r: ProgramResult;
    before(() => {
      r = runProgram({
        stack: "wb",
        platform: stackConfig((c) => {
          c.agentNamespace = "net-agents";
          c.waitForReadiness = false;
        }),
        config: secretKey,
      });
      assert.equal(r.error, undefined, r.error?.message);
    });

    it("one Whereabouts component, named after the stack", () => {
      const comps = r.resources.filter((x) => x.type === "kubevirt-sriov:cluster:Whereabouts");
      assert.deepEqual(
        comps.map((c) => c.name),
        ["wb-whereabouts"],
      );
    });

    it("CRDs, ServiceAccount, ClusterRole, ClusterRoleBinding and ConfigMap", () => {
      for (const name of [
        "ippools.whereabouts.cni.cncf.io",
        "overlappingrangeipreservations.whereabouts.cni.cncf.io",
      ]) {
        assert.equal(k8s(r, "CustomResourceDefinition", name).inputs.spec.group, "whereabouts.cni.cncf.io");
      }
      assert.equal(k8s(r, "ServiceAccount", "whereabouts").inputs.metadata.namespace, "net-agents");
      assert.ok(k8s(r, "ClusterRole", "whereabouts-cni").inputs.rules.length >= 5);
      const binding = k8s(r, "ClusterRoleBinding", "whereabouts");
      assert.deepEqual(binding.inputs.roleRef, {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "whereabouts-cni",
      });
      assert.deepEqual(binding.inputs.subjects, [
        { kind: "ServiceAccount", name: "whereabouts", namespace: "net-agents" },
      ]);
      assert.equal(k8s(r, "ConfigMap", "whereabouts-config").inputs.metadata.namespace, "net-agents");
    });

    it("DaemonSet and ip-reconciler in the agent namespace, mirrored pinned image, skipAwait", () => {
      for (const [kind, name] of [
        ["DaemonSet", "whereabouts"],
        ["Deployment", "whereabouts-reconciler"],
      ]) {
        const w = k8s(r, kind, name);
        assert.equal(w.inputs.metadata.namespace, "net-agents");
        assert.equal(w.inputs.metadata.annotations["pulumi.com/skipAwait"], "true");
        assert.deepEqual(
          w.inputs.spec.template.spec.containers.map((c: { image: string }) => c.image),
          [`${MIRROR}/k8snetworkplumbingwg/whereabouts:v0.9.4`],
        );
      }
    });
  });

  describe("the same stack after its last whereabouts network moved to host-local", () => {
    let r: ProgramResult;
    before(() => {
      r = runProgram({
        stack: "nowb",
        platform: stackConfig((c) => (c.networks[2].ipam = { type: "host-local", subnet: "10.10.0.0/16" })),
        config: secretKey,
      });
      assert.equal(r.error, undefined, r.error?.message);
    });

    it("registers nothing of whereabouts (so an update deletes what an earlier one created)", () => {
      assert.ok(
        r.resources.some((x) => x.type === "kubevirt-sriov:cluster:Multus"),
        "the program ran",
      );
      assert.deepEqual(
        r.resources.filter(isWhereabouts).map((x) => `${x.type} ${x.name}`),
        [],
      );
    });
  });
});
