// node/webhook-tls.js: certificates for the network-resources-injector webhook, checked by
// Node's X.509 parser, a real TLS handshake, openssl, and Go (the webhook and kube-apiserver).
import "reflect-metadata";
import * as peculiar from "@peculiar/x509";
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { X509Certificate, createPrivateKey, KeyObject, webcrypto } from "node:crypto";
import * as fs from "node:fs";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { type KeyPair, type TlsBundle, createCa, issueServing, renew } from "../../node/webhook-tls";

const ROOT = path.join(__dirname, "../..");
const SCRIPT = path.join(ROOT, "node/webhook-tls.js");
const DAY = 86_400_000;
const NAMES = [
  "network-resources-injector-service.kube-system.svc",
  "network-resources-injector-service.kube-system.svc.cluster.local",
];
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000); // certificates keep whole seconds
const at = (days: number) => new Date(NOW.getTime() + days * DAY);
const x509 = (pem: string) => new X509Certificate(pem);
const pemCount = (text: string) => text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;

function keyMatches(pair: KeyPair): boolean {
  return x509(pair.cert).checkPrivateKey(createPrivateKey(pair.key));
}

/** Serves `leaf` on 127.0.0.1 and connects trusting `ca`: "authorized" or why not. */
async function handshake(leaf: KeyPair, ca: string, servername: string): Promise<string> {
  const server = tls.createServer({ cert: leaf.cert, key: leaf.key }, (socket) => socket.end());
  server.on("tlsClientError", () => undefined); // the client hanging up on us is the point of some tests
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve) => {
      const client = tls.connect({ host: "127.0.0.1", port, ca, servername }, () => {
        resolve(client.authorized ? "authorized" : `unauthorized: ${client.authorizationError}`);
        client.end();
      });
      client.on("error", (error) => resolve(`refused: ${error.message}`));
    });
  } finally {
    server.close();
  }
}

describe("webhook-tls: network-resources-injector certificates", () => {
  let ca: KeyPair;
  let leaf: KeyPair;
  let tmp = "";
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "injector-tls-"));
    ca = await createCa({ commonName: "test-ca", days: 30, now: NOW });
    leaf = await issueServing(ca, { dnsNames: NAMES, days: 10, now: NOW });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const tmpDir = (name: string) => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    return dir;
  };

  it("createCa: a self-signed CA valid from 5 minutes ago for the requested days, with its key", () => {
    const cert = x509(ca.cert);
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, "CN=test-ca");
    assert.ok(cert.verify(cert.publicKey), "self-signed");
    assert.equal(new Date(cert.validFrom).getTime(), NOW.getTime() - 5 * 60_000);
    assert.equal(new Date(cert.validTo).getTime(), at(30).getTime());
    assert.ok(keyMatches(ca));
    assert.match(ca.key, /^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("issueServing: a non-CA leaf for every DNS name, signed by the CA, with its key", () => {
    const cert = x509(leaf.cert);
    assert.equal(cert.ca, false);
    assert.equal(cert.subject, `CN=${NAMES[0].split(".")[0]}`);
    assert.equal(cert.subjectAltName, NAMES.map((n) => `DNS:${n}`).join(", "));
    assert.ok(cert.checkIssued(x509(ca.cert)));
    assert.ok(cert.verify(x509(ca.cert).publicKey));
    for (const name of NAMES) assert.equal(cert.checkHost(name), name);
    assert.equal(cert.checkHost("other.kube-system.svc"), undefined);
    assert.ok(keyMatches(leaf));
    assert.equal(new Date(cert.validTo).getTime(), at(10).getTime());
  });

  it("encodes what strict parsers check byte for byte: no trailing zero bits in keyUsage, cA FALSE left out", () => {
    const has = (pem: string, hex: string) => x509(pem).raw.includes(Buffer.from(hex.replace(/ /g, ""), "hex"));
    assert.ok(has(ca.cert, "0603551d0f 0101ff 0404 03020106"), "keyUsage keyCertSign + cRLSign: 1 unused bit");
    assert.ok(has(leaf.cert, "0603551d0f 0101ff 0404 03020780"), "keyUsage digitalSignature: 7 unused bits");
    assert.ok(has(leaf.cert, "0603551d13 0101ff 0402 3000"), "basicConstraints: cA FALSE is its DEFAULT");
  });

  it("encodes names as UTF8String and serials as positive INTEGERs of at most 20 octets", () => {
    const utf8Cn = (cn: string) => Buffer.concat([Buffer.from([0x0c, cn.length]), Buffer.from(cn)]);
    assert.ok(x509(ca.cert).raw.includes(utf8Cn("test-ca")));
    assert.ok(x509(leaf.cert).raw.includes(utf8Cn("network-resources-injector-service")));
    for (const pem of [ca.cert, leaf.cert]) {
      const serial = Buffer.from(x509(pem).serialNumber, "hex");
      assert.ok(serial.length <= 20 && serial.some((b) => b !== 0), x509(pem).serialNumber);
    }
  });

  it("issueServing: never outlives the CA", async () => {
    const long = await issueServing(ca, { dnsNames: NAMES, days: 365, now: NOW });
    assert.equal(x509(long.cert).validTo, x509(ca.cert).validTo);
  });

  it("issueServing: refuses to sign with a certificate that is not a CA, or with another key", async () => {
    await assert.rejects(
      issueServing(leaf, { dnsNames: NAMES, days: 1, now: NOW }),
      /not a CA \(basicConstraints cA is not true\)/,
    );
    const other = await createCa({ commonName: "test-ca", days: 30, now: NOW });
    await assert.rejects(
      issueServing({ cert: ca.cert, key: other.key }, { dnsNames: NAMES, days: 1, now: NOW }),
      /private key does not belong/,
    );
  });

  describe("TLS handshake", () => {
    for (const name of NAMES) {
      it(`a client trusting the CA accepts the webhook as ${name.split(".").slice(2).join(".")}`, async () => {
        assert.equal(await handshake(leaf, ca.cert, name), "authorized");
      });
    }
    it("refuses a name that is not in the certificate", async () => {
      assert.match(await handshake(leaf, ca.cert, "evil.kube-system.svc"), /^refused: .*altnames/i);
    });
    it("refuses the certificate when the client trusts another CA", async () => {
      const other = await createCa({ commonName: "test-ca", days: 30, now: NOW }); // same name, other key
      assert.match(await handshake(leaf, other.cert, NAMES[0]), /^refused: /);
    });
  });

  it("openssl verifies the chain strictly and reads the extensions", () => {
    const dir = tmpDir("openssl");
    fs.writeFileSync(path.join(dir, "ca.pem"), ca.cert);
    fs.writeFileSync(path.join(dir, "leaf.pem"), leaf.cert);
    const openssl = (...args: string[]) => spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    const verify = openssl("verify", "-x509_strict", "-CAfile", "ca.pem", "leaf.pem");
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stdout.trim(), "leaf.pem: OK");
    assert.match(openssl("x509", "-noout", "-text", "-in", "ca.pem").stdout, /CA:TRUE, pathlen:0/);
    const text = openssl("x509", "-noout", "-text", "-in", "leaf.pem").stdout;
    assert.match(text, /CA:FALSE/);
    assert.match(text, /Server Authentication/);
    assert.match(text, new RegExp(NAMES.map((n) => `DNS:${n.replace(/\./g, "\\.")}`).join(", ")));
  });

  it("Go's crypto/tls loads the pair and crypto/x509 verifies it for server auth", async function () {
    this.timeout(120_000);
    const bundles = {
      fresh: await renew(null, { dnsNames: NAMES, days: 10, caDays: 30, now: NOW }),
      // Go matches a leaf's issuer with its CA's subject byte for byte.
      "renewed from the hand-written encoder's CA": await renew(HAND_WRITTEN_BUNDLE, {
        dnsNames: NAMES,
        days: 10,
        caDays: 30,
        now: NOW,
      }),
    };
    for (const [what, bundle] of Object.entries(bundles)) {
      const dir = tmpDir(`go-${Object.keys(bundles).indexOf(what)}`);
      fs.writeFileSync(path.join(dir, "ca.crt"), bundle.caBundle);
      fs.writeFileSync(path.join(dir, "tls.crt"), bundle.tls.cert);
      fs.writeFileSync(path.join(dir, "tls.key"), bundle.tls.key);
      fs.writeFileSync(path.join(dir, "go.mod"), "module tlscheck\n\ngo 1.22\n");
      fs.writeFileSync(path.join(dir, "main.go"), GO_CHECK);
      const env = { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" };
      const run = spawnSync("go", ["run", ".", ...NAMES], { cwd: dir, env, encoding: "utf8" });
      assert.equal(run.status, 0, `${what}: ${run.stderr}`);
      assert.equal(run.stdout.trim(), "OK", what);
    }
  });

  describe("renew", () => {
    const options = { dnsNames: NAMES, days: 5, caDays: 30, now: NOW };

    it("keeps the CA while it outlives the next serving certificate; always issues a new leaf", async () => {
      const first = await renew(null, options);
      const second = await renew(first, { ...options, now: at(20) }); // the CA has 10 days left, more than 5 + 1
      assert.equal(second.ca.cert, first.ca.cert);
      assert.equal(second.caBundle, first.caBundle);
      assert.notEqual(second.tls.cert, first.tls.cert);
      assert.equal(second.notAfter, at(25).toISOString());
      assert.equal(second.caNotAfter, first.caNotAfter);
    });

    it("makes a new CA near expiry and trusts the old one too, so both serving certs are accepted", async () => {
      const first = await renew(null, { ...options, days: 2, caDays: 3 });
      const second = await renew(first, options); // the old CA has 3 days left, not more than 5 + 1
      assert.notEqual(second.ca.cert, first.ca.cert);
      assert.equal(x509(second.ca.cert).subject, "CN=network-resources-injector-ca");
      assert.equal(second.caBundle, second.ca.cert + first.ca.cert);
      assert.equal(second.caNotAfter, at(30).toISOString());
      for (const served of [first.tls, second.tls]) {
        assert.equal(await handshake(served, second.caBundle, NAMES[1]), "authorized");
      }
    });

    it("drops an expired CA from the bundle, whether replacing the CA or keeping it", async () => {
      const start = await renew(null, { ...options, days: 2, caDays: 10 }); // CA1 until day 10
      const rotated = await renew(start, { ...options, now: at(9) }); // CA2 until day 39, CA1 kept
      assert.equal(pemCount(rotated.caBundle), 2);
      const kept = await renew(rotated, { ...options, now: at(9.5) });
      assert.equal(kept.caBundle, rotated.caBundle, "CA1 is still valid");
      const pruned = await renew(kept, { ...options, now: at(11) });
      assert.equal(pruned.ca.cert, rotated.ca.cert);
      assert.equal(pruned.caBundle, rotated.ca.cert, "CA1 expired on day 10");
      const late = await renew(start, { ...options, now: at(11) }); // CA1 expired: replaced, not carried
      assert.notEqual(late.ca.cert, start.ca.cert);
      assert.equal(late.caBundle, late.ca.cert);
    });

    it("keeps the CA of a bundle written by the hand-written encoder, and its leaves verify strictly", async () => {
      const next = await renew(HAND_WRITTEN_BUNDLE, options);
      assert.equal(next.ca.cert, HAND_WRITTEN_BUNDLE.ca.cert);
      assert.equal(next.caBundle, HAND_WRITTEN_BUNDLE.caBundle);
      const dir = tmpDir("hand-written");
      fs.writeFileSync(path.join(dir, "ca.pem"), next.caBundle);
      fs.writeFileSync(path.join(dir, "leaf.pem"), next.tls.cert);
      const verify = spawnSync("openssl", ["verify", "-x509_strict", "-CAfile", "ca.pem", "leaf.pem"], {
        cwd: dir,
        encoding: "utf8",
      });
      assert.equal(verify.status, 0, verify.stderr);
      assert.equal(await handshake(next.tls, next.caBundle, NAMES[0]), "authorized");
    });

    describe("reuses the previous CA only when it really is one", () => {
      // What a previous bundle could hold in `ca` that is valid for long enough but must not
      // sign: each is made here and put where the CA was.
      const cases: [string, () => Promise<KeyPair>, RegExp, "kept in the bundle" | "dropped"][] = [
        [
          "a serving certificate (basicConstraints cA false)",
          async () => (await renew(null, { ...options, days: 20 })).tls,
          /its certificate is not a CA/,
          "dropped",
        ],
        [
          "a CA certificate without keyCertSign",
          () => peculiarCa({ keyUsage: peculiar.KeyUsageFlags.cRLSign }),
          /its certificate may not sign certificates \(no keyCertSign key usage\)/,
          "dropped",
        ],
        [
          "a certificate without basicConstraints",
          () => peculiarCa({ basicConstraints: false }),
          /its certificate is not a CA/,
          "dropped",
        ],
        // A real CA whose key is lost: serving certificates it signed may still be out there.
        [
          "a CA certificate with another CA's key",
          async () => ({
            cert: (await createCa({ commonName: "a", days: 30, now: NOW })).cert,
            key: (await createCa({ commonName: "b", days: 30, now: NOW })).key,
          }),
          /its private key does not belong to its certificate/,
          "kept in the bundle",
        ],
        ["an RSA CA", () => peculiarCa({ rsa: true }), /its key is not ECDSA P-256/, "kept in the bundle"],
      ];
      for (const [what, make, reason, old] of cases) {
        it(`not ${what}: a new CA, the old one ${old}`, async () => {
          const previous = await renew(null, options);
          const bad = await make();
          assert.ok(
            new Date(x509(bad.cert).validTo) > at(7),
            "valid for the new leaf's lifetime: only the CA checks refuse it",
          );
          const warnings = await captureStderr(async () => {
            const next = await renew({ ...previous, ca: bad, caBundle: bad.cert }, options);
            assert.notEqual(next.ca.cert, bad.cert);
            assert.equal(x509(next.ca.cert).subject, "CN=network-resources-injector-ca");
            assert.ok(x509(next.tls.cert).checkIssued(x509(next.ca.cert)));
            assert.equal(await handshake(next.tls, next.caBundle, NAMES[0]), "authorized");
            assert.equal(next.caBundle, old === "dropped" ? next.ca.cert : next.ca.cert + bad.cert);
          });
          assert.match(
            warnings,
            new RegExp(
              `^webhook-tls: warning: the previous CA cannot be reused: ${reason.source}.*; issuing a new CA\n$`,
            ),
          );
        });
      }
    });
  });

  describe("main, run as `node -` with the script on stdin, from the project directory", () => {
    const script = fs.readFileSync(SCRIPT, "utf8");
    const good = { NRI_TLS_DNS_NAMES: NAMES.join(","), NRI_TLS_DAYS: "365", NRI_TLS_CA_DAYS: "3650" };
    // The command provider runs it in the program's directory (see the script's header).
    const run = (vars: Record<string, string>, cwd = ROOT) =>
      spawnSync(process.execPath, ["-"], {
        cwd,
        input: script,
        encoding: "utf8",
        env: { ...process.env, PULUMI_COMMAND_STDOUT: "", ...vars, NRI_TLS_MAIN: "1" },
      });
    const bundleOf = (stdout: string): TlsBundle => {
      assert.equal(stdout.split("\n").length, 2, "one line of JSON");
      const bundle = JSON.parse(stdout) as TlsBundle;
      assert.equal(bundle.format, 1);
      assert.ok(keyMatches(bundle.ca) && keyMatches(bundle.tls));
      assert.ok(x509(bundle.tls.cert).checkIssued(x509(bundle.ca.cert)));
      assert.equal(x509(bundle.tls.cert).subjectAltName, NAMES.map((n) => `DNS:${n}`).join(", "));
      return bundle;
    };

    it("prints a bundle, and reuses its CA when handed the previous output", () => {
      const first = run(good);
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.stderr, "");
      const bundle = bundleOf(first.stdout);
      const again = run({ ...good, PULUMI_COMMAND_STDOUT: first.stdout });
      assert.equal(again.status, 0, again.stderr);
      const next = bundleOf(again.stdout);
      assert.equal(next.ca.cert, bundle.ca.cert);
      assert.notEqual(next.tls.cert, bundle.tls.cert);
    });

    it("exits 2 naming the variable, the problem and the fix when NRI_TLS_DAYS or another setting is bad", () => {
      for (const days of ["0", "3651", "ten", ""]) {
        const r = run({ ...good, NRI_TLS_DAYS: days });
        assert.equal(r.status, 2, `NRI_TLS_DAYS=${days}`);
        assert.match(r.stderr, /NRI_TLS_DAYS.*; set it to a whole number of days from 1 to 3650/);
        assert.equal(r.stdout, "");
      }
      const others = [
        ["NRI_TLS_DNS_NAMES", "ok.svc,not_a name", /"not_a name"/],
        ["NRI_TLS_CA_DAYS", "365", /from 366 to 36500/],
      ] as const;
      for (const [name, value, says] of others) {
        const r = run({ ...good, [name]: value });
        assert.equal(r.status, 2, `${name}=${value}`);
        assert.match(r.stderr, new RegExp(`^webhook-tls: ${name}=.*${says.source}`));
      }
    });

    it("warns when the previous CA is not a CA, and issues a new one", () => {
      const first = bundleOf(run(good).stdout);
      // Its 365-day serving certificate outlives a 30-day one: only the CA check refuses it.
      const r = run({
        ...good,
        NRI_TLS_DAYS: "30",
        PULUMI_COMMAND_STDOUT: JSON.stringify({ ...first, ca: first.tls }),
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /^webhook-tls: warning: the previous CA cannot be reused: its certificate is not a CA/);
      const next = bundleOf(r.stdout);
      assert.notEqual(next.ca.cert, first.ca.cert);
      assert.equal(next.caBundle, next.ca.cert);
    });

    it("exits 3 saying how to get @peculiar/x509 when the working directory has no node_modules", () => {
      const r = run(good, tmpDir("no-node-modules"));
      assert.equal(r.status, 3, r.stderr);
      assert.match(
        r.stderr,
        /^webhook-tls: cannot load @peculiar\/x509 .* from .*no-node-modules; run `npm ci` in the project directory/,
      );
      assert.equal(r.stdout, "");
    });

    it("warns about an unreadable PULUMI_COMMAND_STDOUT and starts over", () => {
      for (const previous of ["{not json", JSON.stringify({ format: 2 })]) {
        const r = run({ ...good, PULUMI_COMMAND_STDOUT: previous });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /warning: PULUMI_COMMAND_STDOUT/);
        bundleOf(r.stdout);
      }
    });
  });
});

/** A CA-like certificate made with the library directly, for what webhook-tls.js never makes. */
async function peculiarCa(o: { keyUsage?: number; basicConstraints?: boolean; rsa?: boolean }): Promise<KeyPair> {
  const subtle = webcrypto.subtle;
  const alg = o.rsa
    ? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
    : { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const cert = await peculiar.X509CertificateGenerator.createSelfSigned({
    name: "CN=network-resources-injector-ca",
    notBefore: new Date(NOW.getTime() - 60_000),
    notAfter: at(30),
    keys,
    signingAlgorithm: alg,
    extensions: [
      ...(o.basicConstraints === false ? [] : [new peculiar.BasicConstraintsExtension(true, 0, true)]),
      new peculiar.KeyUsagesExtension(
        o.keyUsage ?? peculiar.KeyUsageFlags.keyCertSign | peculiar.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  return {
    cert: cert.toString("pem") + "\n",
    key: String(KeyObject.from(keys.privateKey).export({ type: "pkcs8", format: "pem" })),
  };
}

/** What `fn` writes to stderr (webhook-tls.js warns there). */
async function captureStderr(fn: () => Promise<void>): Promise<string> {
  const write = process.stderr.write;
  let text = "";
  process.stderr.write = ((chunk: string | Uint8Array) => (
    (text += String(chunk)),
    true
  )) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return text;
}

/** A bundle printed by the hand-written DER encoder this script used before @peculiar/x509 (2026-11-28,
 * CA for 36500 days): what the state of a stack deployed then hands back. Test-only keys. */
/** Its CA certificate, which is also the whole caBundle it printed. */
const HAND_WRITTEN_CA = `-----BEGIN CERTIFICATE-----
MIIBlTCCATugAwIBAgIQDaaOUdl2g9QJlpl0VWdh1TAKBggqhkjOPQQDAjAoMSYw
JAYDVQQDDB1uZXR3b3JrLXJlc291cmNlcy1pbmplY3Rvci1jYTAgFw0yNjExMjgw
ODA5MjNaGA8yMTI2MTEwNDA4MTQyM1owKDEmMCQGA1UEAwwdbmV0d29yay1yZXNv
dXJjZXMtaW5qZWN0b3ItY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR6Ayu3
3itcXdwYW/sa/VnVCHCvCxdqrR0fokw4aqvCG7KxuPHgjSRvnGVC4IFFKwPCViND
7t5NRkt2CoNyu64/o0UwQzASBgNVHRMBAf8ECDAGAQH/AgEAMA4GA1UdDwEB/wQE
AwIBBjAdBgNVHQ4EFgQUV7knjkvMWLpkCMgjdMmBcGMcvP0wCgYIKoZIzj0EAwID
SAAwRQIhALVafOOBZd0lRJkLTJvfo0PdqFn9m0Y5rPWNfmi6cJxDAiAzoTfXshUO
yKGsb7gSJf/PF1F6RuiwbmGFYK+Kfo8zWg==
-----END CERTIFICATE-----
`;

const HAND_WRITTEN_BUNDLE: TlsBundle = {
  format: 1,
  ca: {
    cert: HAND_WRITTEN_CA,
    key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJh3Ty75YmG8OrBZN
EhPuDQ70Z/RUg4hIjmXWy5VfS5OhRANCAAR6Ayu33itcXdwYW/sa/VnVCHCvCxdq
rR0fokw4aqvCG7KxuPHgjSRvnGVC4IFFKwPCViND7t5NRkt2CoNyu64/
-----END PRIVATE KEY-----
`,
  },
  caBundle: HAND_WRITTEN_CA,
  tls: {
    cert: `-----BEGIN CERTIFICATE-----
MIICSzCCAfGgAwIBAgIQE2WOPkw7FwHDf4FcQIwB/jAKBggqhkjOPQQDAjAoMSYw
JAYDVQQDDB1uZXR3b3JrLXJlc291cmNlcy1pbmplY3Rvci1jYTAeFw0yNjExMjgw
ODA5MjNaFw0zNjExMjUwODE0MjNaMC0xKzApBgNVBAMMIm5ldHdvcmstcmVzb3Vy
Y2VzLWluamVjdG9yLXNlcnZpY2UwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASn
XBxg1eUy7ZC7zN8Q0/PvAlpUXXreW2jiObptZIHOodRBM+UlwkydhBB/7ODVWB/a
y9bl/au0fkTQBBzTvIHpo4H3MIH0MAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQD
AgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMH8GA1UdEQR4MHaCMm5ldHdvcmstcmVz
b3VyY2VzLWluamVjdG9yLXNlcnZpY2Uua3ViZS1zeXN0ZW0uc3ZjgkBuZXR3b3Jr
LXJlc291cmNlcy1pbmplY3Rvci1zZXJ2aWNlLmt1YmUtc3lzdGVtLnN2Yy5jbHVz
dGVyLmxvY2FsMB8GA1UdIwQYMBaAFFe5J45LzFi6ZAjII3TJgXBjHLz9MB0GA1Ud
DgQWBBTYNbj1yzHZzAeg/ffGjg/FHsyL5jAKBggqhkjOPQQDAgNIADBFAiEAvqFB
+ZMdf2rHeoSUrD45iJThrZ6yXN5QoUlq+JROzW4CIDGmBQn/UEmAthBVwEFSAIbh
scqJ6BhTIQiNk+rTdeBa
-----END CERTIFICATE-----
`,
    key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg32CXgOX1fZJR5odF
t5DlxsJNgrA4acPNXFPSsYOYW4KhRANCAASnXBxg1eUy7ZC7zN8Q0/PvAlpUXXre
W2jiObptZIHOodRBM+UlwkydhBB/7ODVWB/ay9bl/au0fkTQBBzTvIHp
-----END PRIVATE KEY-----
`,
  },
  notAfter: "2036-11-25T08:14:23.000Z",
  caNotAfter: "2126-11-04T08:14:23.000Z",
};

// Loads the pair the way the webhook does and verifies it the way kube-apiserver does.
const GO_CHECK = `package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func main() {
	pair, err := tls.X509KeyPair(read("tls.crt"), read("tls.key"))
	check(err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	check(err)
	roots := x509.NewCertPool()
	// AppendCertsFromPEM skips what it cannot parse; parse each CA to see the error.
	for rest := read("ca.crt"); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		ca, err := x509.ParseCertificate(block.Bytes)
		check(err)
		roots.AddCert(ca)
	}
	for _, name := range os.Args[1:] {
		opts := x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		_, err := leaf.Verify(opts)
		check(err)
	}
	fmt.Println("OK")
}

func read(name string) []byte { data, err := os.ReadFile(name); check(err); return data }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`;
