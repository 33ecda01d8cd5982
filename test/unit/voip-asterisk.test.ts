import { strict as assert } from "assert";
import * as fc from "fast-check";
import {
  asteriskSettingsFor,
  AsteriskSettings,
  echoContext,
  pjsipIdentify,
  renderAsteriskFiles,
  renderIni,
} from "../../render/asterisk";
import { pbxCloudConfig } from "../../render/cloudInit";
import { demoModel, vmNamed } from "../fixtures/voip";

interface Section {
  name: string;
  lines: Array<[string, string, string]>;
}

/**
 * Reads Asterisk's ini dialect as Asterisk does: `;` starts a comment, `[name]` opens a
 * section, `key = value` and `key => value` are entries. Anything else is an error.
 */
function parseAsteriskIni(text: string): Section[] {
  const sections: Section[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/;.*$/, "").trim();
    if (line === "") return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      sections.push({ name: header[1], lines: [] });
      return;
    }
    const entry = /^([A-Za-z_][\w-]*)\s*(=>|=)\s*(.*)$/.exec(line);
    if (!entry) throw new Error(`line ${i + 1} is neither a section nor an entry: ${raw}`);
    if (sections.length === 0) throw new Error(`line ${i + 1}: entry outside any section`);
    sections[sections.length - 1].lines.push([entry[1], entry[2], entry[3]]);
  });
  return sections;
}

const section = (sections: Section[], name: string): Record<string, string> => {
  const found = sections.filter((s) => s.name === name);
  assert.equal(found.length, 1, `expected one [${name}], found ${found.length}`);
  return Object.fromEntries(found[0].lines.map(([k, , v]) => [k, v]));
};

function pbxFiles(edit?: Parameters<typeof demoModel>[0]) {
  const vm = vmNamed(demoModel(edit), "pbx");
  const files = renderAsteriskFiles(asteriskSettingsFor(vm));
  return {
    pjsip: parseAsteriskIni(files["/etc/asterisk/pjsip.conf"]),
    extensions: parseAsteriskIni(files["/etc/asterisk/extensions.conf"]),
    modules: parseAsteriskIni(files["/etc/asterisk/modules.conf"]),
    raw: files,
  };
}

describe("asterisk config of the PBX", () => {
  it("pjsip.conf: exactly a transport, the load generator's endpoint and its identify, in that order", () => {
    assert.deepEqual(
      pbxFiles().pjsip.map((s) => s.name),
      ["transport-udp", "loadgen", "loadgen-identify"],
    );
  });

  it("[transport-udp] binds UDP to the PBX's first SR-IOV address and the role's SIP port", () => {
    assert.deepEqual(section(pbxFiles().pjsip, "transport-udp"), {
      type: "transport",
      protocol: "udp",
      bind: "10.56.217.10:5060",
    });
    const custom = pbxFiles((raw) => (raw.vms[0].pbx = { sipPort: 5080 }));
    assert.equal(section(custom.pjsip, "transport-udp").bind, "10.56.217.10:5080");
  });

  it("[loadgen] lands in voip-echo with G.711 only and media through the PBX", () => {
    assert.deepEqual(section(pbxFiles().pjsip, "loadgen"), {
      type: "endpoint",
      transport: "transport-udp",
      context: "voip-echo",
      disallow: "all",
      allow: "ulaw,alaw",
      direct_media: "no",
      rtp_symmetric: "yes",
    });
  });

  it("[loadgen-identify] matches the PBX's SR-IOV subnet by default, allowFrom when set", () => {
    assert.deepEqual(section(pbxFiles().pjsip, "loadgen-identify"), {
      type: "identify",
      endpoint: "loadgen",
      match: "10.56.217.0/24",
    });
    const narrowed = pbxFiles((raw) => (raw.vms[0].pbx = { allowFrom: "10.56.217.20/32" }));
    assert.equal(section(narrowed.pjsip, "loadgen-identify").match, "10.56.217.20/32");
  });

  it("the default subnet is the network address of the SR-IOV address, whatever the host part", () => {
    const cases: Array<[string, string]> = [
      ["10.56.217.10/24", "10.56.217.0/24"],
      ["10.56.217.130/25", "10.56.217.128/25"],
      ["10.56.217.10/32", "10.56.217.10/32"],
      ["10.56.217.10/16", "10.56.0.0/16"],
    ];
    for (const [address, subnet] of cases) {
      const vm = vmNamed(
        demoModel((raw) => {
          delete raw.networks[0].subnet;
          raw.vms[0].interfaces[0].address = address;
          // Only the PBX: validation would (rightly) refuse a load generator outside a /32.
          raw.vms.splice(1);
        }),
        "pbx",
      );
      assert.equal(asteriskSettingsFor(vm).allowFrom, subnet, address);
    }
  });

  it("extensions.conf: [general] protects the file, [voip-echo] answers, echoes, hangs up", () => {
    const { extensions } = pbxFiles();
    assert.deepEqual(
      extensions.map((s) => s.name),
      ["general", "voip-echo"],
    );
    assert.deepEqual(section(extensions, "general"), { static: "yes", writeprotect: "yes" });
    assert.deepEqual(extensions[1].lines, [
      ["exten", "=>", "100,1,Answer()"],
      ["same", "=>", "n,Echo()"],
      ["same", "=>", "n,Hangup()"],
    ]);
  });

  it("prompt-echo plays demo-congrats before echoing, on the configured extension", () => {
    const { extensions } = pbxFiles((raw) => {
      raw.vms[0].pbx = { extension: "7000", answer: "prompt-echo" };
      raw.vms[1].loadgen.extension = "7000";
    });
    assert.deepEqual(
      extensions[1].lines.map(([, , v]) => v),
      ["7000,1,Answer()", "n,Playback(demo-congrats)", "n,Echo()", "n,Hangup()"],
    );
    const vm = vmNamed(
      demoModel((raw) => (raw.vms[0].pbx = { answer: "prompt-echo" })),
      "pbx",
    );
    assert.deepEqual(pbxCloudConfig(vm).packages, ["asterisk", "asterisk-core-sounds-en-gsm"]);
  });

  it("modules.conf autoloads everything but chan_sip", () => {
    const { modules } = pbxFiles();
    assert.deepEqual(modules[0].lines, [
      ["autoload", "=", "yes"],
      ["noload", "=>", "chan_sip.so"],
    ]);
  });

  it("is byte-identical across renders and across separately parsed models", () => {
    assert.deepEqual(pbxFiles().raw, pbxFiles().raw);
    const text = pbxFiles().raw["/etc/asterisk/pjsip.conf"];
    assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"));
  });

  it("every rendered section parses back to what was rendered (property)", () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const settings = fc.record({
      bindIp: fc.tuple(octet, octet, octet, octet).map((o) => o.join(".")),
      sipPort: fc.integer({ min: 1, max: 65535 }),
      extension: fc.stringMatching(/^[0-9A-Za-z_+*#-]{1,32}$/),
      answer: fc.constantFrom<AsteriskSettings["answer"]>("echo", "prompt-echo"),
      allowFrom: fc
        .tuple(octet, octet, octet, octet, fc.integer({ min: 0, max: 32 }))
        .map(([a, b, c, d, l]) => `${a}.${b}.${c}.${d}/${l}`),
    });
    fc.assert(
      fc.property(settings, (s) => {
        const parsed = parseAsteriskIni(renderIni([pjsipIdentify(s), echoContext(s)]));
        assert.equal(section(parsed, "loadgen-identify").match, s.allowFrom);
        assert.equal(parsed[1].lines[0][2].split(",")[0], s.extension);
      }),
      { numRuns: 200 },
    );
  });

  it("the parser refuses what Asterisk would not read (so the checks can fail)", () => {
    assert.throws(() => parseAsteriskIni("bind = 1.2.3.4\n"), /outside any section/);
    assert.throws(() => parseAsteriskIni("[a]\nnot an entry\n"), /neither a section nor an entry/);
  });
});
