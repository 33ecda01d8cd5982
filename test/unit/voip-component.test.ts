// VoipVm under Pulumi mocks: the Kubernetes objects it would send for the kubecon-demo VMs.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformModel } from "../../config/model";
import { VoipVm } from "../../components/voipVm";
import { renderVmOutput, VoipVmOutput } from "../../render/outputs";
import { renderNetworkData, renderUserData } from "../../render/cloudInit";
import { managementMac } from "../../render/guestNics";
import { RecordingMocks } from "../harness/mocks";
import { isSecretValue, outputValue } from "../harness/values";
import { demoModel, vmNamed } from "../fixtures/voip";

async function build(
  model: PlatformModel,
  names: string[],
): Promise<{ mocks: RecordingMocks; vms: Map<string, VoipVm>; outputs: Map<string, VoipVmOutput> }> {
  const mocks = await new RecordingMocks().install("kubecon-demo");
  const vms = new Map<string, VoipVm>();
  const outputs = new Map<string, VoipVmOutput>();
  for (const name of names) {
    const c = new VoipVm(`kubecon-demo-vm-default-${name}`, { vm: vmNamed(model, name), model });
    vms.set(name, c);
  }
  for (const [name, c] of vms) {
    await outputValue(c.vm.urn);
    if (c.cloudInitSecret) await outputValue(c.cloudInitSecret.urn);
    const fields = {
      name: c.vmName,
      namespace: c.namespace,
      kind: c.kind,
      role: c.role,
      nodeSelector: c.nodeSelector,
      sriovInterfaces: c.sriovInterfaces,
      management: c.management,
      sipUri: c.sipUri,
      loadTest: c.loadTest,
    };
    // The component's output fields, as one object without the absent ones (what the stack exports).
    outputs.set(name, JSON.parse(JSON.stringify(await outputValue(pulumi.output(fields)))) as VoipVmOutput);
  }
  return { mocks, vms, outputs };
}

describe("VoipVm component (mocks): the kubecon-demo VMs", () => {
  const model = demoModel();
  let mocks: RecordingMocks;
  let outputs: Map<string, VoipVmOutput>;

  before(async () => {
    ({ mocks, outputs } = await build(model, ["pbx", "sipp"]));
  });

  const vmObject = (name: string) =>
    mocks.one("kubernetes:kubevirt.io/v1:VirtualMachine", `kubecon-demo-vm-default-${name}-vm`).inputs;

  it("registers the component under its stable type token, one per VM", () => {
    const components = mocks.resources.filter((r) => r.type === "kubevirt-sriov:voip:VoipVm").map((r) => r.name);
    assert.deepEqual(components.sort(), ["kubecon-demo-vm-default-pbx", "kubecon-demo-vm-default-sipp"]);
  });

  it("sends each VM as kubevirt.io/v1 VirtualMachine, named as configured, not awaited", () => {
    for (const name of ["pbx", "sipp"]) {
      const obj = vmObject(name);
      assert.equal(obj.apiVersion, "kubevirt.io/v1");
      assert.equal(obj.kind, "VirtualMachine");
      assert.equal(obj.metadata.name, name);
      assert.equal(obj.metadata.namespace, "default");
      assert.equal(obj.metadata.annotations["pulumi.com/skipAwait"], "true");
      assert.equal(obj.metadata.labels["kubevirt-sriov/role"], name === "pbx" ? "pbx" : "loadgen");
      assert.equal(obj.spec.runStrategy, "Always");
      assert.equal(obj.spec.template.metadata.labels["app.kubernetes.io/part-of"], "kubevirt-sriov");
    }
  });

  it("interfaces, networks and MACs: masquerade management NIC + the SR-IOV NIC on default/sriov-net", () => {
    for (const name of ["pbx", "sipp"]) {
      const vm = vmNamed(model, name);
      const spec = vmObject(name).spec.template.spec;
      assert.deepEqual(spec.domain.devices.interfaces, [
        { name: "default", masquerade: {}, macAddress: managementMac(vm) },
        { name: "sriov0", sriov: {}, macAddress: vm.interfaces[0].mac },
      ]);
      assert.deepEqual(spec.networks, [
        { name: "default", pod: {} },
        { name: "sriov0", multus: { networkName: "default/sriov-net" } },
      ]);
    }
    assert.notEqual(vmNamed(model, "pbx").interfaces[0].mac, vmNamed(model, "sipp").interfaces[0].mac);
  });

  it("tuning: pinned CPUs with an isolated emulator thread, 1Gi hugepages, Guaranteed resources, no balloon or graphics", () => {
    for (const name of ["pbx", "sipp"]) {
      const spec = vmObject(name).spec.template.spec;
      assert.deepEqual(spec.domain.cpu, {
        cores: 2,
        model: "host-passthrough",
        dedicatedCpuPlacement: true,
        isolateEmulatorThread: true,
      });
      assert.deepEqual(spec.domain.memory, { hugepages: { pageSize: "1Gi" } });
      assert.deepEqual(spec.domain.resources, {
        requests: { cpu: "2", memory: "2Gi" },
        limits: { cpu: "2", memory: "2Gi" },
      });
      assert.equal(spec.domain.devices.autoattachMemBalloon, false);
      assert.equal(spec.domain.devices.autoattachGraphicsDevice, false);
      assert.equal(spec.domain.ioThreadsPolicy, "auto");
      assert.deepEqual(spec.nodeSelector, { "kubevirt.io/cpumanager": "true" });
    }
  });

  it("PBX: user-data (over KubeVirt's inline limit) in the VM's Secret, network-config inline", () => {
    const pbx = vmNamed(model, "pbx");
    const vol = vmObject("pbx").spec.template.spec.volumes;
    assert.deepEqual(vol[0], {
      name: "containerdisk",
      containerDisk: { image: "quay.io/containerdisks/ubuntu:24.04" },
    });
    assert.deepEqual(vol[1], {
      name: "cloudinitdisk",
      cloudInitNoCloud: { secretRef: { name: "pbx-cloudinit" }, networkData: renderNetworkData(pbx) },
    });
    const secret = mocks.one("kubernetes:core/v1:Secret", "kubecon-demo-vm-default-pbx-cloudinit").inputs;
    assert.deepEqual(secret.stringData.value, { userdata: renderUserData(pbx, model) });
  });

  it("load generator: user-data in the VM's Secret, network-config inline", () => {
    const sipp = vmNamed(model, "sipp");
    const vol = vmObject("sipp").spec.template.spec.volumes;
    assert.deepEqual(vol[0].containerDisk, { image: "quay.io/containerdisks/debian:12" });
    assert.deepEqual(vol[1].cloudInitNoCloud, {
      secretRef: { name: "sipp-cloudinit" },
      networkData: renderNetworkData(sipp),
    });
    const secret = mocks.one("kubernetes:core/v1:Secret", "kubecon-demo-vm-default-sipp-cloudinit").inputs;
    assert.equal(secret.metadata.name, "sipp-cloudinit");
    assert.equal(secret.metadata.namespace, "default");
    // The Kubernetes SDK marks Secret data secret; mocks see it in the SDK's envelope.
    assert.ok(isSecretValue(secret.stringData));
    assert.deepEqual(secret.stringData.value, { userdata: renderUserData(sipp, model) });
  });

  it("outputs: names, NICs, management commands, SIP URI and load-test command", () => {
    assert.deepEqual(outputs.get("pbx"), {
      name: "pbx",
      namespace: "default",
      kind: "VirtualMachine",
      role: "pbx",
      nodeSelector: { "kubevirt.io/cpumanager": "true" },
      sriovInterfaces: [
        {
          network: "default/sriov-net",
          mac: vmNamed(model, "pbx").interfaces[0].mac,
          guestIp: "10.56.217.10",
          guestInterface: "sriov0",
        },
      ],
      management: { console: "virtctl console pbx -n default", ssh: "virtctl ssh voip@vm/pbx/default" },
      sipUri: "sip:100@10.56.217.10:5060",
    });
    const sipp = outputs.get("sipp");
    assert.deepEqual(sipp?.loadTest, {
      command: "sudo /usr/local/bin/voip-loadtest",
      viaVirtctl: "virtctl ssh voip@vm/sipp/default --command 'sudo /usr/local/bin/voip-loadtest'",
      statsFile: "/var/log/voip-loadtest/stats.csv",
      target: "sip:100@10.56.217.10:5060",
    });
    assert.equal(sipp?.sipUri, undefined);
    for (const name of ["pbx", "sipp"])
      assert.deepEqual(outputs.get(name), renderVmOutput(vmNamed(model, name), model));
  });
});

describe("VoipVm component (mocks): variants", () => {
  it("kind VirtualMachineInstance sends the VMI spec directly, and the mirror moves the container disk", async () => {
    const model = demoModel((raw) => {
      raw.vms[0].kind = "VirtualMachineInstance";
      raw.registryMirror = "registry.local:5000/mirror";
    });
    const { mocks, outputs } = await build(model, ["pbx"]);
    const obj = mocks.one("kubernetes:kubevirt.io/v1:VirtualMachineInstance", "kubecon-demo-vm-default-pbx-vm").inputs;
    assert.equal(obj.kind, "VirtualMachineInstance");
    assert.equal(obj.spec.runStrategy, undefined);
    assert.equal(obj.spec.domain.cpu.cores, 2);
    assert.equal(obj.spec.volumes[0].containerDisk.image, "registry.local:5000/mirror/containerdisks/ubuntu:24.04");
    assert.equal(obj.metadata.annotations["pulumi.com/skipAwait"], "true");
    assert.match(obj.metadata.annotations["kubevirt-sriov/cloud-init-sha256"], /^[0-9a-f]{64}$/);
    assert.equal(outputs.get("pbx")?.management.ssh, "virtctl ssh voip@vmi/pbx/default");
  });

  it("a load generator whose PBX is not in the model fails as a resource error naming the VM", async () => {
    const model = demoModel();
    await new RecordingMocks().install("kubecon-demo");
    const orphan: PlatformModel = { ...model, vms: model.vms.filter((v) => v.config.name === "sipp") };
    assert.throws(
      () => new VoipVm("orphan", { vm: vmNamed(model, "sipp"), model: orphan }),
      (e: unknown) =>
        e instanceof pulumi.ResourceError &&
        /VM default\/sipp: load generator default\/sipp: no PBX VM named "pbx"/.test(e.message),
    );
  });
});
