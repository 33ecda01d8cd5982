import { strict as assert } from "assert";
import * as fc from "fast-check";
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../config/errors";
import { deriveMac, VmModel } from "../../config/model";
import { renderNetworkData, renderUserData } from "../../render/cloudInit";
import { managementMac, planGuestNics } from "../../render/guestNics";
import {
  CLOUD_INIT_HASH_ANNOTATION,
  CLOUD_INIT_INLINE_LIMIT,
  placeCloudInit,
  renderVmiSpec,
  renderVmObject,
} from "../../render/vmSpec";
import { ROOT } from "../harness/stacks";
import { demoModel, RawConfig, vmNamed } from "../fixtures/voip";

/** The VM `name` of the demo stack after `edit`, with its rendered VMI spec. */
function specOf(name: string, edit?: (raw: RawConfig) => void) {
  const model = demoModel(edit);
  const vm = vmNamed(model, name);
  const spec = renderVmiSpec(vm, renderUserData(vm, model), renderNetworkData(vm));
  return { model, vm, spec };
}

const tune =
  (vm: string, tuning: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  (raw: RawConfig) => {
    const v = raw.vms.find((x: RawConfig) => x.name === vm);
    Object.assign(v, extra, { tuning });
  };

describe("voip VM spec: NICs, disks, cloud-init", () => {
  it("puts a masquerade NIC on the pod network first, then one SR-IOV NIC per interface", () => {
    const { vm, spec } = specOf("pbx");
    assert.deepEqual(spec.domain.devices.interfaces, [
      { name: "default", masquerade: {}, macAddress: managementMac(vm) },
      { name: "sriov0", sriov: {}, macAddress: vm.interfaces[0].mac },
    ]);
    assert.deepEqual(spec.networks, [
      { name: "default", pod: {} },
      { name: "sriov0", multus: { networkName: "default/sriov-net" } },
    ]);
  });

  it("numbers several SR-IOV NICs in order, each on its own NAD", () => {
    const { spec } = specOf("pbx", (raw) => {
      raw.networks.push({ name: "sriov-sig", namespace: "voip", pool: "sriov_net_B", subnet: "10.56.218.0/24" });
      raw.vms[0].interfaces.push({ network: "voip/sriov-sig", address: "10.56.218.10/24", mac: "02:00:00:00:00:01" });
    });
    assert.deepEqual(spec.domain.devices.interfaces?.slice(1), [
      { name: "sriov0", sriov: {}, macAddress: deriveMac("default/pbx", "default/sriov-net") },
      { name: "sriov1", sriov: {}, macAddress: "02:00:00:00:00:01" },
    ]);
    assert.deepEqual(
      spec.networks?.map((n) => n.multus?.networkName),
      [undefined, "default/sriov-net", "voip/sriov-sig"],
    );
  });

  it("boots the role's container disk and attaches the cloud-init disk", () => {
    const { spec } = specOf("pbx");
    assert.deepEqual(spec.domain.devices.disks, [
      { name: "containerdisk", disk: { bus: "virtio" }, bootOrder: 1 },
      { name: "cloudinitdisk", disk: { bus: "virtio" } },
    ]);
    assert.deepEqual(spec.volumes?.[0], {
      name: "containerdisk",
      containerDisk: { image: "quay.io/containerdisks/ubuntu:24.04" },
    });
    assert.equal(specOf("sipp").spec.volumes?.[0].containerDisk?.image, "quay.io/containerdisks/debian:12");
  });

  it("pulls the container disk through the registry mirror", () => {
    const model = demoModel();
    const vm = vmNamed(model, "pbx");
    const spec = renderVmiSpec(vm, "#cloud-config\n", "version: 2\n", { registryMirror: "registry.local:5000/mirror" });
    assert.equal(spec.volumes?.[0].containerDisk?.image, "registry.local:5000/mirror/containerdisks/ubuntu:24.04");
  });

  it("keeps small documents inline and moves each one above KubeVirt's 2048-byte limit to the Secret", () => {
    const vm = vmNamed(demoModel(), "pbx");
    const at = "x".repeat(CLOUD_INIT_INLINE_LIMIT);
    assert.deepEqual(placeCloudInit(vm, at, "n"), { source: { userData: at, networkData: "n" } });
    const over = `${at}x`;
    assert.deepEqual(placeCloudInit(vm, over, "n"), {
      source: { secretRef: { name: "pbx-cloudinit" }, networkData: "n" },
      secret: { name: "pbx-cloudinit", namespace: "default", stringData: { userdata: over } },
    });
    // The limit is in bytes: 1025 two-byte characters are over it.
    const utf8 = "é".repeat(1025);
    assert.deepEqual(placeCloudInit(vm, "u", utf8), {
      source: { userData: "u", networkDataSecretRef: { name: "pbx-cloudinit" } },
      secret: { name: "pbx-cloudinit", namespace: "default", stringData: { networkdata: utf8 } },
    });
  });

  it("places the demo's documents as their size demands: user-data over 2048 bytes in the Secret, network-config inline", () => {
    // The PBX's user-data (Asterisk's files and its systemd drop-in) is over KubeVirt's limit.
    const pbx = specOf("pbx");
    const src = pbx.spec.volumes?.[1].cloudInitNoCloud;
    assert.ok(Buffer.byteLength(renderUserData(pbx.vm, pbx.model)) > 2048);
    assert.deepEqual(src?.secretRef, { name: "pbx-cloudinit" });
    assert.equal(src?.userData, undefined);
    assert.equal(src?.networkData, renderNetworkData(pbx.vm));
    const sipp = specOf("sipp");
    const s2 = sipp.spec.volumes?.[1].cloudInitNoCloud;
    assert.deepEqual(s2?.secretRef, { name: "sipp-cloudinit" });
    assert.equal(s2?.userData, undefined);
    assert.equal(s2?.networkData, renderNetworkData(sipp.vm));
  });
});

describe("voip VM spec: latency tuning", () => {
  it("renders the schema defaults as pinned, isolated, 1Gi-backed, balloon-free, headless", () => {
    const { spec } = specOf("pbx");
    assert.deepEqual(spec.domain.cpu, {
      cores: 2,
      model: "host-passthrough",
      dedicatedCpuPlacement: true,
      isolateEmulatorThread: true,
    });
    assert.deepEqual(spec.domain.resources, {
      requests: { cpu: "2", memory: "2Gi" },
      limits: { cpu: "2", memory: "2Gi" },
    });
    assert.deepEqual(spec.domain.memory, { hugepages: { pageSize: "1Gi" } });
    assert.equal(spec.domain.devices.autoattachMemBalloon, false);
    assert.equal(spec.domain.devices.autoattachGraphicsDevice, false);
    assert.equal(spec.domain.ioThreadsPolicy, "auto");
    assert.deepEqual(spec.nodeSelector, { "kubevirt.io/cpumanager": "true" });
  });

  it("without dedicated CPUs: no pinning, no CPU-manager selector, memory request only", () => {
    const { spec } = specOf("pbx", tune("pbx", { dedicatedCpus: false, isolateEmulatorThread: false }));
    assert.equal(spec.domain.cpu?.dedicatedCpuPlacement, false);
    assert.equal(spec.domain.cpu?.isolateEmulatorThread, false);
    assert.deepEqual(spec.domain.resources, { requests: { memory: "2Gi" } });
    assert.equal(spec.nodeSelector, undefined);
  });

  it("requests whole CPUs equal to limits and to cpu.cores", () => {
    const { spec } = specOf("pbx", (raw) => Object.assign(raw.vms[0], { cpus: 6, memory: "8Gi" }));
    assert.equal(spec.domain.cpu?.cores, 6);
    assert.deepEqual(spec.domain.resources, {
      requests: { cpu: "6", memory: "8Gi" },
      limits: { cpu: "6", memory: "8Gi" },
    });
  });

  const table: Array<
    [
      string,
      Record<string, unknown>,
      Record<string, unknown>,
      (s: ReturnType<typeof specOf>["spec"]) => unknown,
      unknown,
    ]
  > = [
    ["hugepages 2Mi", { hugepages: "2Mi" }, {}, (s) => s.domain.memory, { hugepages: { pageSize: "2Mi" } }],
    ["hugepages none", { hugepages: "none" }, {}, (s) => s.domain.memory, undefined],
    ["NUMA passthrough", { numaPassthrough: true }, {}, (s) => s.domain.cpu?.numa, { guestMappingPassthrough: {} }],
    ["no NUMA passthrough", { numaPassthrough: false }, {}, (s) => s.domain.cpu?.numa, undefined],
    ["host-model CPU", { cpuModel: "host-model" }, {}, (s) => s.domain.cpu?.model, "host-model"],
    ["memory balloon on", { memBalloon: true }, {}, (s) => s.domain.devices.autoattachMemBalloon, true],
    ["graphics on", { graphics: true }, {}, (s) => s.domain.devices.autoattachGraphicsDevice, true],
    ["shared IO thread", { ioThreads: "shared" }, {}, (s) => s.domain.ioThreadsPolicy, "shared"],
    ["no IO threads", { ioThreads: "none" }, {}, (s) => s.domain.ioThreadsPolicy, undefined],
    ["emulator thread shared", { isolateEmulatorThread: false }, {}, (s) => s.domain.cpu?.isolateEmulatorThread, false],
    [
      "user node selector merged",
      {},
      { nodeSelector: { "kubevirt-sriov/pool": "media" } },
      (s) => s.nodeSelector,
      { "kubevirt-sriov/pool": "media", "kubevirt.io/cpumanager": "true" },
    ],
  ];
  for (const [title, tuning, extra, pick, expected] of table) {
    it(`${title}`, () => {
      const { spec } = specOf("pbx", tune("pbx", tuning, extra));
      assert.deepEqual(pick(spec), expected);
    });
  }
});

describe("voip VM spec: tuning prerequisites (parsePlatform)", () => {
  const fails = (edit: (raw: RawConfig) => void, path: string, words: RegExp) => {
    assert.throws(
      () => demoModel(edit),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        const line = e.message.split("\n").find((l) => l.includes(`kubevirt-sriov:platform.${path}:`));
        assert.ok(line, `no problem at ${path} in:\n${e.message}`);
        assert.match(line, words);
        return true;
      },
    );
  };

  it("an isolated emulator thread needs dedicated CPUs", () => {
    fails(tune("pbx", { dedicatedCpus: false }), "vms[0].tuning.isolateEmulatorThread", /needs dedicated CPUs/);
  });
  it("NUMA passthrough needs hugepages", () => {
    fails(
      tune("pbx", { numaPassthrough: true, hugepages: "none" }),
      "vms[0].tuning.numaPassthrough",
      /needs dedicated CPUs and hugepages/,
    );
  });
  it("NUMA passthrough needs dedicated CPUs", () => {
    fails(
      tune("sipp", { numaPassthrough: true, dedicatedCpus: false, isolateEmulatorThread: false }),
      "vms[1].tuning.numaPassthrough",
      /needs dedicated CPUs/,
    );
  });
  it("1Gi hugepages need memory in whole Gi", () => {
    fails((raw) => (raw.vms[0].memory = "1536Mi"), "vms[0].memory", /not a whole number of 1Gi hugepages/);
  });
  it("2Mi hugepages need an even number of Mi", () => {
    fails(
      tune("pbx", { hugepages: "2Mi" }, { memory: "1025Mi" }),
      "vms[0].memory",
      /not a whole number of 2Mi hugepages/,
    );
  });
  it("a load generator must target a PBX of the stack", () => {
    fails((raw) => (raw.vms[1].loadgen.target = "sipp"), "vms[1].loadgen.target", /not a PBX VM/);
  });
});

describe("voip VM spec: MAC addresses", () => {
  it("are derived deterministically from the VM and the network", () => {
    const a = demoModel();
    const b = demoModel();
    for (const name of ["pbx", "sipp"]) {
      const [va, vb] = [vmNamed(a, name), vmNamed(b, name)];
      assert.equal(va.interfaces[0].mac, vb.interfaces[0].mac);
      assert.equal(va.interfaces[0].mac, deriveMac(va.ref, "default/sriov-net"));
      assert.equal(managementMac(va), managementMac(vb));
    }
    assert.notEqual(vmNamed(a, "pbx").interfaces[0].mac, vmNamed(a, "sipp").interfaces[0].mac);
  });

  it("follow the configured MAC when one is given", () => {
    const vm = vmNamed(
      demoModel((raw) => (raw.vms[0].interfaces[0].mac = "02:de:ad:be:ef:01")),
      "pbx",
    );
    assert.equal(renderVmiSpec(vm, "u", "n").domain.devices.interfaces?.[1].macAddress, "02:de:ad:be:ef:01");
  });

  it("change with the VM's name or namespace", () => {
    const renamed = vmNamed(
      demoModel((raw) => Object.assign(raw.vms[0], { name: "pbx2" }) && (raw.vms[1].loadgen.target = "pbx2")),
      "pbx2",
    );
    const moved = vmNamed(
      demoModel((raw) => (raw.vms[0].namespace = "voip")),
      "pbx",
    );
    const base = vmNamed(demoModel(), "pbx");
    assert.notEqual(renamed.interfaces[0].mac, base.interfaces[0].mac);
    assert.notEqual(moved.interfaces[0].mac, base.interfaces[0].mac);
    assert.notEqual(managementMac(renamed), managementMac(base));
  });

  it("are locally administered unicast, and the management MAC never equals an SR-IOV one", () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/);
    fc.assert(
      fc.property(name, name, name, (ns, vmName, net) => {
        const vmRef = `${ns}/${vmName}`;
        const mac = deriveMac(vmRef, `${ns}/${net}`);
        assert.match(mac, /^02(:[0-9a-f]{2}){5}$/);
        assert.equal(deriveMac(vmRef, `${ns}/${net}`), mac);
        const vm = { ref: vmRef, interfaces: [] } as unknown as VmModel;
        assert.notEqual(managementMac(vm), mac);
        assert.match(managementMac(vm), /^02(:[0-9a-f]{2}){5}$/);
      }),
      { numRuns: 200 },
    );
  });

  it("the guest NIC plan and the spec agree on every MAC", () => {
    const { vm, spec } = specOf("sipp");
    const nics = planGuestNics(vm);
    assert.deepEqual(
      spec.domain.devices.interfaces?.map((i) => i.macAddress),
      [nics.management.mac, ...nics.sriov.map((n) => n.mac)],
    );
  });
});

describe("voip VM objects", () => {
  it("a VirtualMachine runs Always and carries labels on the VM and its template", () => {
    const model = demoModel();
    const vm = vmNamed(model, "sipp");
    const obj = renderVmObject(vm, "u", "n");
    assert.equal(obj.kind, "VirtualMachine");
    if (obj.kind !== "VirtualMachine") return;
    assert.equal(obj.apiVersion, "kubevirt.io/v1");
    assert.deepEqual(obj.metadata, {
      name: "sipp",
      namespace: "default",
      labels: { "app.kubernetes.io/part-of": "kubevirt-sriov", "kubevirt-sriov/role": "loadgen" },
    });
    assert.equal(obj.spec.runStrategy, "Always");
    assert.equal(obj.spec.running, undefined);
    assert.deepEqual(obj.spec.template.metadata?.labels, obj.metadata?.labels);
    assert.deepEqual(obj.spec.template.spec, renderVmiSpec(vm, "u", "n"));
  });

  it("a VirtualMachineInstance carries the spec itself", () => {
    const vm = vmNamed(
      demoModel((raw) => (raw.vms[0].kind = "VirtualMachineInstance")),
      "pbx",
    );
    const obj = renderVmObject(vm, "u", "n");
    assert.equal(obj.kind, "VirtualMachineInstance");
    if (obj.kind !== "VirtualMachineInstance") return;
    assert.deepEqual(obj.spec, renderVmiSpec(vm, "u", "n"));
    assert.equal(obj.metadata?.labels?.["kubevirt-sriov/role"], "pbx");
    assert.ok(obj.metadata?.annotations?.[CLOUD_INIT_HASH_ANNOTATION]);
  });

  it("a cloud-init change changes the template (the VM shows a restart is needed)", () => {
    const vm = vmNamed(demoModel(), "sipp");
    const hash = (u: string) => {
      const o = renderVmObject(vm, u, "n");
      return o.kind === "VirtualMachine"
        ? o.spec.template.metadata?.annotations?.[CLOUD_INIT_HASH_ANNOTATION]
        : undefined;
    };
    assert.match(hash("a") ?? "", /^[0-9a-f]{64}$/);
    assert.notEqual(hash("a"), hash("b"));
    assert.equal(hash("a"), hash("a"));
  });

  it("uses only fields, types and required fields of the KubeVirt v1.9.0 OpenAPI", () => {
    const doc = loadOpenApi();
    const model = demoModel((raw) => {
      raw.vms[0].tuning = { numaPassthrough: true, ioThreads: "shared", memBalloon: true, graphics: true };
      raw.vms[0].nodeSelector = { zone: "a" };
      raw.vms.push({
        name: "vmi",
        role: "custom",
        kind: "VirtualMachineInstance",
        custom: { userData: "#cloud-config\n" },
        interfaces: [{ network: "sriov-net", address: "10.56.217.30/24", gateway: "10.56.217.1" }],
      });
    });
    for (const vm of model.vms) {
      const obj = renderVmObject(vm, renderUserData(vm, model), renderNetworkData(vm));
      const problems = conform(doc, `v1.${obj.kind}`, obj, obj.kind);
      assert.deepEqual(problems, [], `${vm.ref}:\n${problems.join("\n")}`);
    }
  });

  it("the OpenAPI check catches an unknown field (so it can fail)", () => {
    const doc = loadOpenApi();
    const problems = conform(
      doc,
      "v1.VirtualMachine",
      { spec: { template: { spec: { domain: { devices: {}, cpu: { dedicatedCPUs: true } } } } } },
      "vm",
    );
    assert.deepEqual(problems, ["vm.spec.template.spec.domain.cpu.dedicatedCPUs: not in v1.CPU"]);
  });
});

// ---- KubeVirt's OpenAPI as a checker ------------------------------------------------------

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
}
interface OpenApi {
  definitions: Record<string, Schema>;
}

/**
 * KubeVirt's published OpenAPI document is read from where it is kept (never copied into
 * this repository): $KUBEVIRT_OPENAPI, or the team's shared/ reference beside the checkout
 * or at /work/shared.
 */
function loadOpenApi(): OpenApi {
  const name = path.join("shared", "reference", "kubevirt-v1.9.0-openapi.json");
  const candidates = [process.env.KUBEVIRT_OPENAPI, path.join(ROOT, "..", name), path.join("/work", name)].filter(
    (f): f is string => !!f,
  );
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file)
    throw new Error(
      `KubeVirt v1.9.0 OpenAPI not found (looked at ${candidates.join(", ")}); set KUBEVIRT_OPENAPI to its path`,
    );
  return JSON.parse(fs.readFileSync(file, "utf8")) as OpenApi;
}

function conform(doc: OpenApi, defName: string, value: unknown, at: string): string[] {
  return check(doc, { $ref: `#/definitions/${defName}` }, value, at);
}

function check(doc: OpenApi, schema: Schema, value: unknown, at: string): string[] {
  if (schema.$ref !== undefined) {
    const name = schema.$ref.replace("#/definitions/", "");
    const def = doc.definitions[name];
    if (def === undefined) return [`${at}: unknown definition ${name}`];
    return checkDef(doc, name, def, value, at);
  }
  return checkDef(doc, "(inline)", schema, value, at);
}

function checkDef(doc: OpenApi, name: string, schema: Schema, value: unknown, at: string): string[] {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const actual = Array.isArray(value)
    ? "array"
    : value === null
      ? "null"
      : Number.isInteger(value)
        ? "integer"
        : typeof value === "number"
          ? "number"
          : typeof value;
  if (types.length > 0 && !types.includes(actual) && !(actual === "integer" && types.includes("number"))) {
    return [`${at}: ${actual} where ${name} wants ${types.join("|")}`];
  }
  if (schema.enum !== undefined && !schema.enum.includes(value))
    return [`${at}: ${JSON.stringify(value)} not one of ${schema.enum.join(", ")}`];
  const out: string[] = [];
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => out.push(...check(doc, schema.items as Schema, v, `${at}[${i}]`)));
    return out;
  }
  if (typeof value !== "object" || value === null) return out;
  const obj = value as Record<string, unknown>;
  for (const req of schema.required ?? []) if (!(req in obj)) out.push(`${at}: missing required ${req} of ${name}`);
  for (const [k, v] of Object.entries(obj)) {
    const prop = schema.properties?.[k];
    if (prop !== undefined) out.push(...check(doc, prop, v, `${at}.${k}`));
    else if (typeof schema.additionalProperties === "object")
      out.push(...check(doc, schema.additionalProperties, v, `${at}.${k}`));
    else if (schema.properties !== undefined || schema.additionalProperties === false)
      out.push(`${at}.${k}: not in ${name}`);
  }
  return out;
}
