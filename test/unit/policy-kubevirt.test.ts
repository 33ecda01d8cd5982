import * as assert from "assert";
import { parsePlatform } from "../../config/validate";
import { kubevirtFeatureGates, kubevirtInjectionGate } from "../../policies/rules/kubevirtGate";
import { gateDemand } from "../../config/kubevirtGates";
import { renderKubevirtCr } from "../../render/kubevirt";
import { loadStackConfig } from "../harness/stacks";
import { rangeSize, vfDemandWithinSupply } from "../../policies/rules/vfDemand";
import { vmDedicatedCpuResources, vmSriovMacAddresses } from "../../policies/rules/vmHygiene";
import { vmSriovNetworks } from "../../policies/rules/vmNetworks";
import { nadProps, resource, runResource, runStack, T, vmiProps, vmProps } from "../harness/policy";

describe("policy vm-sriov-networks", () => {
  const nad = resource(T.nad, "sriov-net", nadProps("sriov-net"));

  it("passes a VM whose SR-IOV interfaces use annotated sriov NADs of the stack", async () => {
    const out = await runStack(vmSriovNetworks, [
      nad,
      resource(T.vm, "pbx", vmProps()),
      resource(T.vmi, "sipp", vmiProps({ name: "sipp", nads: ["sriov-net"] })),
    ]);
    assert.deepStrictEqual(out.violations, []);
  });

  it("reports a NAD that is not in the stack, or in another namespace", async () => {
    const vm = resource(T.vm, "pbx", vmProps({ nads: ["default/other", "voip/sriov-net"] }));
    const out = await runStack(vmSriovNetworks, [nad, vm]);
    assert.deepStrictEqual(
      out.violations.map((v) => [v.urn, v.message]),
      [
        [
          vm.urn,
          'VM default/pbx interface "sriov0" uses NAD default/other, which this stack does not define — define the network in the stack, or fix the name (NADs here: default/sriov-net)',
        ],
        [
          vm.urn,
          'VM default/pbx interface "sriov1" uses NAD voip/sriov-net, which this stack does not define — define the network in the stack, or fix the name (NADs here: default/sriov-net)',
        ],
      ],
    );
  });

  const broken: [string, Record<string, unknown>, RegExp][] = [
    [
      "no resourceName annotation",
      nadProps("sriov-net", { resource: null }),
      /has no "k8s\.v1\.cni\.cncf\.io\/resourceName" annotation/,
    ],
    ["a config that is not JSON", nadProps("sriov-net", { config: "{ type: sriov" }), /spec\.config is not JSON/],
    [
      "a non-sriov CNI",
      nadProps("sriov-net", { config: { cniVersion: "1.0.0", type: "macvlan" } }),
      /is of CNI type "macvlan", not "sriov"/,
    ],
    ["no vlan", nadProps("sriov-net", { config: { cniVersion: "1.0.0", type: "sriov" } }), /does not set "vlan"/],
  ];
  for (const [what, props, message] of broken) {
    it(`reports a NAD with ${what}`, async () => {
      const out = await runStack(vmSriovNetworks, [
        resource(T.nad, "sriov-net", props),
        resource(T.vm, "pbx", vmProps()),
      ]);
      assert.strictEqual(out.violations.length, 1);
      assert.match(out.violations[0].message, message);
    });
  }

  it("accepts a conflist with the sriov plugin, and reports an interface without a multus network", async () => {
    const conflist = resource(
      T.nad,
      "sriov-net",
      nadProps("sriov-net", {
        config: { cniVersion: "1.0.0", name: "x", plugins: [{ type: "sriov", vlan: 100 }, { type: "tuning" }] },
      }),
    );
    assert.deepStrictEqual(
      (await runStack(vmSriovNetworks, [conflist, resource(T.vm, "pbx", vmProps())])).violations,
      [],
    );
    const props = vmProps();
    ((props.spec as any).template.spec.networks as unknown[]).splice(1, 1);
    const out = await runStack(vmSriovNetworks, [conflist, resource(T.vm, "pbx", props)]);
    assert.match(
      out.violations[0].message,
      /interface "sriov0" is SR-IOV but no spec\.networks entry of that name has multus\.networkName/,
    );
  });

  it("is not applicable to a stack without VMs", async () => {
    assert.ok((await runStack(vmSriovNetworks, [nad])).notApplicable !== undefined);
  });
});

describe("policy kubevirt-injection-gate", () => {
  const cr = (version: string | undefined, dev: Record<string, unknown> = {}) =>
    resource(T.kubevirt, "kubevirt", {
      metadata: {
        name: "kubevirt",
        namespace: "kubevirt",
        annotations: version ? { "kubevirt-sriov/version": version } : {},
      },
      spec: { configuration: { developerConfiguration: dev } },
    });
  const disabled = { disabledFeatureGates: ["ExternalNetResourceInjection"] };
  const injector = resource(
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
    "platform-network-resources-injector-webhook",
    {
      metadata: { name: "network-resources-injector-config" },
      webhooks: [
        {
          name: "network-resources-injector-config.k8s.cni.cncf.io",
          clientConfig: { service: { name: "network-resources-injector-service", namespace: "kube-system" } },
        },
      ],
    },
  );
  const deployment = (initContainers: unknown[]) =>
    resource(T.deployment, "network-resources-injector", {
      metadata: { name: "network-resources-injector", namespace: "kube-system" },
      spec: { template: { spec: { containers: [{ name: "webhook-server", command: ["webhook"] }], initContainers } } },
    });

  it("requires the gate disabled on v1.9+ without the injector", async () => {
    const out = await runStack(kubevirtInjectionGate, [cr("v1.9.0")]);
    assert.strictEqual(out.violations.length, 1);
    assert.match(
      out.violations[0].message,
      /KubeVirt CR kubevirt\/kubevirt \(KubeVirt v1\.9\.0\) leaves ExternalNetResourceInjection on by default .* add it to spec\.configuration\.developerConfiguration\.disabledFeatureGates/,
    );
    assert.match(
      (await runStack(kubevirtInjectionGate, [cr("v1.9.0", { featureGates: ["ExternalNetResourceInjection"] })]))
        .violations[0].message,
      /enables ExternalNetResourceInjection without the network-resources-injector/,
    );
  });

  it("passes v1.9 with the gate disabled, v1.8 without it, and v1.9 with the injector", async () => {
    assert.deepStrictEqual((await runStack(kubevirtInjectionGate, [cr("v1.9.0", disabled)])).violations, []);
    assert.deepStrictEqual((await runStack(kubevirtInjectionGate, [cr("v1.8.4")])).violations, []);
    assert.deepStrictEqual((await runStack(kubevirtInjectionGate, [cr("v1.9.0"), injector])).violations, []);
    // Upstream's manifest: its installer init container creates the webhook configuration.
    assert.deepStrictEqual(
      (
        await runStack(kubevirtInjectionGate, [
          cr("v1.10.0"),
          deployment([{ name: "installer", command: ["installer"] }]),
        ])
      ).violations,
      [],
    );
  });

  it("does not count an injector without its webhook", async () => {
    const out = await runStack(kubevirtInjectionGate, [cr("v1.9.0"), deployment([])]);
    assert.match(
      out.violations[0].message,
      /leaves ExternalNetResourceInjection on by default and the stack has no network-resources-injector/,
    );
    const otherWebhook = resource("kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration", "other", {
      metadata: { name: "other" },
      webhooks: [{ name: "x.example.com", clientConfig: { service: { name: "other-service", namespace: "x" } } }],
    });
    assert.equal((await runStack(kubevirtInjectionGate, [cr("v1.9.0"), otherWebhook])).violations.length, 1);
  });

  it("flags disabling the gate although the injector runs", async () => {
    assert.match(
      (await runStack(kubevirtInjectionGate, [cr("v1.9.0", disabled), injector])).violations[0].message,
      /the injector is never used/,
    );
  });

  it("takes the version from the pack config, and treats an unknown one as v1.9+", async () => {
    assert.deepStrictEqual(
      (await runStack(kubevirtInjectionGate, [cr(undefined)], { kubevirtVersion: "v1.8.4" })).violations,
      [],
    );
    assert.match(
      (await runStack(kubevirtInjectionGate, [cr(undefined)])).violations[0].message,
      /an unknown KubeVirt release .* treated as v1\.9\+/,
    );
  });

  it("is not applicable without a KubeVirt CR", async () => {
    assert.ok((await runStack(kubevirtInjectionGate, [injector])).notApplicable !== undefined);
  });
});

describe("policy vm-sriov-mac-addresses", () => {
  it("passes SR-IOV interfaces with a MAC", async () => {
    assert.deepStrictEqual(
      (await runResource(vmSriovMacAddresses, { type: T.vm, props: vmProps({ nads: ["a", "b"] }) })).violations,
      [],
    );
  });

  it("reports each SR-IOV interface without one (not the pod network)", async () => {
    const out = await runResource(vmSriovMacAddresses, {
      type: T.vmi,
      props: vmiProps({ nads: ["a", "b"], mac: false }),
    });
    assert.deepStrictEqual(
      out.violations.map((v) => v.split(" has no")[0]),
      ['VM default/pbx SR-IOV interface "sriov0"', 'VM default/pbx SR-IOV interface "sriov1"'],
    );
  });
});

describe("policy vm-dedicated-cpu-resources", () => {
  it("passes requests == limits, in any notation", async () => {
    const resources = { requests: { cpu: "2", memory: "2Gi" }, limits: { cpu: "2000m", memory: "2048Mi" } };
    assert.deepStrictEqual(
      (await runResource(vmDedicatedCpuResources, { type: T.vm, props: vmProps({ resources }) })).violations,
      [],
    );
  });

  it("reports requests that differ from limits, and missing limits", async () => {
    const resources = { requests: { cpu: "2", memory: "2Gi" }, limits: { cpu: "3" } };
    const out = await runResource(vmDedicatedCpuResources, { type: T.vm, props: vmProps({ resources }) });
    assert.deepStrictEqual(out.violations, [
      'VM default/pbx uses dedicatedCpuPlacement but requests.cpu "2" differs from limits.cpu "3" — make them equal (Guaranteed QoS, or the CPU manager pins nothing)',
      "VM default/pbx uses dedicatedCpuPlacement but spec.domain.resources limits.memory is not set — set requests.memory and limits.memory to the same value",
    ]);
  });

  it("does not apply to VMs without dedicated CPUs", async () => {
    const out = await runResource(vmDedicatedCpuResources, {
      type: T.vm,
      props: vmProps({ dedicated: false, resources: { requests: { memory: "2Gi" } } }),
    });
    assert.strictEqual(out.notApplicable, "no dedicated CPUs");
  });
});

describe("policy vf-demand-within-supply", () => {
  const resourceList = (entries: string[], name = "sriov_net_A") => ({
    resourceList: [
      {
        resourceName: name,
        resourcePrefix: "intel.com",
        deviceType: "netDevice",
        selectors: [{ drivers: ["vfio-pci"], rootDevices: entries }],
      },
    ],
  });
  const uniform = (nodes: string | undefined, entries = ["0000:02:00.0#0-7", "0000:02:00.2#0-7"]) =>
    resource(T.configMap, "sriovdp-config", {
      metadata: {
        name: "sriovdp-config",
        namespace: "kube-system",
        annotations: nodes === undefined ? {} : { "kubevirt-sriov/nodes": nodes },
      },
      data: { "config.json": JSON.stringify(resourceList(entries)) },
    });
  const nad = resource(T.nad, "sriov-net", nadProps("sriov-net"));
  const vms = (n: number, perVm = 1) =>
    Array.from({ length: n }, (_, i) =>
      resource(T.vm, `vm${i}`, vmProps({ name: `vm${i}`, nads: Array(perVm).fill("sriov-net") })),
    );

  it("counts explicit VF ranges", () => {
    assert.strictEqual(rangeSize("ens1f0#0-7"), 8);
    assert.strictEqual(rangeSize("0000:86:00.0#0-3,6"), 5);
    assert.strictEqual(rangeSize("ens1f0"), undefined);
  });

  it("passes demand within a uniform config × nodes", async () => {
    assert.deepStrictEqual((await runStack(vfDemandWithinSupply, [uniform("2"), nad, ...vms(16, 2)])).violations, []);
  });

  it("reports demand above supply, naming resource, demand and supply", async () => {
    const cm = uniform("1");
    const out = await runStack(vfDemandWithinSupply, [cm, nad, ...vms(10, 2)]);
    assert.deepStrictEqual(out.violations, [
      {
        message:
          'resource "intel.com/sriov_net_A": VMs request 20 VFs but the device plugin supplies 16 (sriovdp-config: config.json × 1 node) — add VFs (numVfs) or nodes, or lower the demand',
        urn: cm.urn,
      },
    ]);
  });

  it("sums per-node files", async () => {
    const perNode = resource(T.configMap, "sriovdp-config", {
      metadata: { name: "sriovdp-config", namespace: "kube-system" },
      data: {
        "node-1.json": JSON.stringify(resourceList(["ens1f0#0-3"])),
        "node-2.json": JSON.stringify(resourceList(["ens1f0#0-1", "ens1f1#4-5"])),
      },
    });
    assert.deepStrictEqual((await runStack(vfDemandWithinSupply, [perNode, nad, ...vms(8)])).violations, []);
    const out = await runStack(vfDemandWithinSupply, [perNode, nad, ...vms(9)]);
    assert.match(
      out.violations[0].message,
      /VMs request 9 VFs but the device plugin supplies 8 \(sriovdp-config: 2 per-node files\)/,
    );
  });

  it("reports a resource that the ConfigMap does not offer at all, on the VM", async () => {
    const other = resource(T.nad, "other-net", nadProps("other-net", { resource: "intel.com/pool_b" }));
    const [vm] = [resource(T.vm, "vm0", vmProps({ name: "vm0", nads: ["other-net"] }))];
    const out = await runStack(vfDemandWithinSupply, [uniform("1"), other, vm]);
    assert.deepStrictEqual(
      out.violations.map((v) => v.urn),
      [vm.urn],
    );
    assert.match(out.violations[0].message, /"intel\.com\/pool_b": VMs request 1 VFs but the device plugin supplies 0/);
  });

  it("requires the node-count annotation on a uniform config.json", async () => {
    const out = await runStack(vfDemandWithinSupply, [uniform(undefined), nad, ...vms(1)]);
    assert.strictEqual(out.violations.length, 1);
    assert.match(out.violations[0].message, /no valid "kubevirt-sriov\/nodes" annotation \(missing\)/);
  });

  it("counts a config rendered from what NIC selectors matched (ranges by PF name) like any other", async () => {
    const cm = uniform("3", ["enp96s0f0#0-3", "enp96s0f1#0-3"]);
    assert.deepStrictEqual((await runStack(vfDemandWithinSupply, [cm, nad, ...vms(24)])).violations, []);
    assert.match(
      (await runStack(vfDemandWithinSupply, [cm, nad, ...vms(25)])).violations[0].message,
      /VMs request 25 VFs but the device plugin supplies 24 \(sriovdp-config: config\.json × 3 nodes\)/,
    );
  });

  it("waits while the ConfigMap's files are unknown (a preview before node preparation resolved the NIC selectors)", async () => {
    // @pulumi/policy's proxy throws this on reading a value unknown during preview.
    class UnknownValueError extends Error {}
    const cm = uniform("2");
    Object.defineProperty(cm.props, "data", {
      enumerable: true,
      get: () => {
        throw new UnknownValueError("unknown");
      },
    });
    const out = await runStack(vfDemandWithinSupply, [cm, nad, ...vms(100)]);
    assert.deepStrictEqual(out.violations, []);
    assert.match(
      out.notApplicable ?? "",
      /the files of sriovdp-config are known once node preparation has resolved the nodes' NIC selectors/,
    );
  });

  it("is not applicable without the ConfigMap or without VMs", async () => {
    assert.match(
      (await runStack(vfDemandWithinSupply, [nad, ...vms(1)])).notApplicable ?? "",
      /no sriovdp-config ConfigMap/,
    );
    assert.match((await runStack(vfDemandWithinSupply, [uniform("1"), nad])).notApplicable ?? "", /no KubeVirt VMs/);
  });
});

describe("policy kubevirt-feature-gates", () => {
  const cr = (version: string | undefined, dev: Record<string, unknown> = {}) =>
    resource(T.kubevirt, "kubevirt", {
      metadata: {
        name: "kubevirt",
        namespace: "kubevirt",
        annotations: version ? { "kubevirt-sriov/version": version } : {},
      },
      spec: { configuration: { developerConfiguration: dev } },
    });

  it("reports a CR without CPUManager while VMs ask for dedicated CPUs, naming them and the cure", async () => {
    const kv = cr("v1.9.0");
    const out = await runStack(kubevirtFeatureGates, [
      kv,
      resource(T.vm, "pbx", vmProps()),
      resource(T.vmi, "sipp", vmiProps({ name: "sipp" })),
    ]);
    assert.deepStrictEqual(
      out.violations.map((v) => [v.urn, v.message]),
      [
        [
          kv.urn,
          "KubeVirt CR kubevirt/kubevirt does not enable the CPUManager feature gate, but VMs default/pbx, default/sipp set domain.cpu.dedicatedCpuPlacement: virt-handler labels every node kubevirt.io/cpumanager=false and such VMs stay Pending — add CPUManager to spec.configuration.developerConfiguration.featureGates (and remove it from disabledFeatureGates)",
        ],
      ],
    );
  });

  it("reports a CR that enables and also disables CPUManager", async () => {
    const out = await runStack(kubevirtFeatureGates, [
      cr("v1.9.0", { featureGates: ["CPUManager"], disabledFeatureGates: ["CPUManager"] }),
      resource(T.vm, "pbx", vmProps()),
    ]);
    assert.match(out.violations[0].message, /disables the CPUManager feature gate, but VM default\/pbx sets/);
  });

  it("passes with CPUManager enabled, or without VMs that pin CPUs", async () => {
    assert.deepStrictEqual(
      (
        await runStack(kubevirtFeatureGates, [
          cr("v1.9.0", { featureGates: ["CPUManager"] }),
          resource(T.vm, "pbx", vmProps()),
        ])
      ).violations,
      [],
    );
    assert.deepStrictEqual(
      (await runStack(kubevirtFeatureGates, [cr("v1.9.0"), resource(T.vm, "pbx", vmProps({ dedicated: false }))]))
        .violations,
      [],
    );
  });

  it("needs the NUMA gate for guest NUMA passthrough only before v1.4.0", async () => {
    const props = vmProps();
    ((props.spec as any).template.spec.domain.cpu as any).numa = { guestMappingPassthrough: {} };
    const vm = resource(T.vm, "pbx", props);
    assert.deepStrictEqual(
      (await runStack(kubevirtFeatureGates, [cr("v1.9.0", { featureGates: ["CPUManager"] }), vm])).violations,
      [],
    );
    const old = await runStack(kubevirtFeatureGates, [cr("v1.3.1", { featureGates: ["CPUManager"] }), vm]);
    assert.match(
      old.violations[0].message,
      /does not enable the NUMA feature gate, but VM default\/pbx sets domain\.cpu\.numa\.guestMappingPassthrough: KubeVirt rejects such VMs/,
    );
  });

  it("the program's own kubecon-demo CR passes (it turns CPUManager on)", async () => {
    const m = parsePlatform(loadStackConfig("kubecon-demo"));
    const rendered = renderKubevirtCr(m.config.kubevirt, undefined, gateDemand(m));
    const out = await runStack(kubevirtFeatureGates, [
      resource(T.kubevirt, "kubevirt", rendered as unknown as Record<string, unknown>),
      resource(T.vm, "pbx", vmProps()),
    ]);
    assert.deepStrictEqual(out.violations, []);
  });
});
