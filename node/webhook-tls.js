// @ts-check
"use strict";
// webhook-tls.js: the CA and serving certificate of the network-resources-injector
// admission webhook. It runs inside a Pulumi command resource as `node -` with this
// text on stdin, so it uses nothing but Node itself: a small DER encoder and reader
// below build X.509 v3 certificates signed with ECDSA P-256 / SHA-256.
//
//   NRI_TLS_MAIN=1 NRI_TLS_DNS_NAMES=svc.ns.svc,svc.ns.svc.cluster.local \
//   NRI_TLS_DAYS=365 NRI_TLS_CA_DAYS=3650 node - < webhook-tls.js
//
// prints one line of JSON (a format-1 bundle, see webhook-tls.d.ts). On update the
// command provider hands the previous output back in PULUMI_COMMAND_STDOUT, which
// lets the CA live on across runs while the serving certificate is reissued.

const crypto = require("node:crypto");

/** @typedef {import("./webhook-tls").KeyPair} KeyPair */
/** @typedef {import("./webhook-tls").TlsBundle} TlsBundle */
/** @typedef {import("./webhook-tls").CaOptions} CaOptions */
/** @typedef {import("./webhook-tls").ServingOptions} ServingOptions */
/** @typedef {import("./webhook-tls").RenewOptions} RenewOptions */

const DAY_MS = 86_400_000;
// Nodes and the API server rarely agree on the time to the second; a certificate
// that is "not yet valid" for a few seconds after creation fails webhook calls.
const CLOCK_SKEW_MS = 5 * 60_000;
const CA_COMMON_NAME = "network-resources-injector-ca";
const MAX_DAYS = 3650;
const MAX_CA_DAYS = 36500;

const OID = {
  commonName: "2.5.4.3",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

// keyUsage bit numbers from RFC 5280 section 4.2.1.3.
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 };

// ---------------------------------------------------------------- DER encoding

/** @param {number} n */
function encodeLength(n) {
  if (n < 0x80) return Buffer.from([n]);
  /** @type {number[]} */
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** @param {number} tag @param {Uint8Array} content */
function tlv(tag, content) {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** @param {string} text */
const ascii = (text) => Buffer.from(text, "latin1");

/** @param {Buffer[]} items */
const sequence = (...items) => tlv(0x30, Buffer.concat(items));

// DER orders the members of a SET OF by their encodings.
/** @param {Buffer[]} items */
const set = (...items) => tlv(0x31, Buffer.concat([...items].sort(Buffer.compare)));

/** @param {boolean} value */
const boolean = (value) => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));

/**
 * A non-negative INTEGER, from a safe integer or big-endian bytes. DER wants the
 * shortest form, plus a leading zero when the top bit is set (else it reads negative).
 * @param {number | Uint8Array} value
 */
function integer(value) {
  let bytes;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`integer: ${value} is not a non-negative safe integer`);
    /** @type {number[]} */
    const digits = [];
    for (let v = value; v > 0; v = Math.floor(v / 256)) digits.unshift(v % 256);
    bytes = Buffer.from(digits);
  } else {
    bytes = Buffer.from(value);
  }
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0 || bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

/** @param {string} dotted */
function oid(dotted) {
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new Error(`oid: bad OID ${dotted}`);
  /** @type {number[]} */
  const out = [];
  for (const arc of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    /** @type {number[]} */
    const base128 = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | v % 128);
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

/** @param {string} text */
const utf8String = (text) => tlv(0x0c, Buffer.from(text, "utf8"));

/** @param {Uint8Array} bytes */
const octetString = (bytes) => tlv(0x04, bytes);

/** @param {Uint8Array} bytes @param {number} [unusedBits] */
const bitString = (bytes, unusedBits = 0) => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));

/** @param {number} n @param {Buffer} inner */
const explicit = (n, inner) => tlv(0xa0 | n, inner);

/** @param {number} n @param {Uint8Array} content */
const implicit = (n, content) => tlv(0x80 | n, content);

/**
 * RFC 5280 section 4.1.2.5: UTCTime through 2049, GeneralizedTime after; both in
 * whole seconds with a Z.
 * @param {Date} date
 */
function time(date) {
  const year = date.getUTCFullYear();
  if (year > 9999) throw new RangeError(`time: ${date.toISOString()} is past year 9999`);
  const digits = date.toISOString().slice(0, 19).replace(/[-T:]/g, "");
  return year >= 1950 && year < 2050 ? tlv(0x17, ascii(`${digits.slice(2)}Z`)) : tlv(0x18, ascii(`${digits}Z`));
}

/**
 * A named-bit BIT STRING (keyUsage): DER drops trailing zero bits and says how many
 * bits of the last byte are unused, which strict parsers (Go) check.
 * @param {number[]} bits
 */
function namedBits(bits) {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc((highest >> 3) + 1);
  for (const bit of bits) bytes[bit >> 3] |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (highest & 7));
}

// ---------------------------------------------------------------- DER reading

/** @typedef {{ tag: number, start: number, contentStart: number, end: number }} Node */

/** @param {Buffer} buf @param {number} offset @returns {Node} */
function readNode(buf, offset) {
  if (offset + 2 > buf.length) throw new Error("DER: truncated header");
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: multi-byte tags are not supported");
  let length = buf[offset + 1];
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error("DER: unsupported length form");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[contentStart + i];
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > buf.length) throw new Error("DER: content runs past the end");
  return { tag, start: offset, contentStart, end };
}

/** @param {Buffer} buf @param {Node} node */
function childrenOf(buf, node) {
  /** @type {Node[]} */
  const children = [];
  for (let p = node.contentStart; p < node.end; ) {
    const child = readNode(buf, p);
    children.push(child);
    p = child.end;
  }
  return children;
}

/** @param {Buffer} buf @param {Node} node */
const contentOf = (buf, node) => buf.subarray(node.contentStart, node.end);

/** @param {Buffer} buf @param {Node} node */
function readTime(buf, node) {
  const text = contentOf(buf, node).toString("latin1");
  const utc = node.tag === 0x17 && /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  const generalized = node.tag === 0x18 && /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  const match = utc || generalized;
  if (!match) throw new Error(`DER: unsupported time ${JSON.stringify(text)}`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const fullYear = utc ? (year < 50 ? 2000 + year : 1900 + year) : year;
  return new Date(Date.UTC(fullYear, month - 1, day, hour, minute, second));
}

// ---------------------------------------------------------------- PEM

/** @param {string} label @param {Buffer} der */
function toPem(label, der) {
  const lines = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${lines}-----END ${label}-----\n`;
}

/** Every block with this label, decoded. @param {string} text @param {string} label */
function pemBlocks(text, label) {
  const pattern = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, "g");
  return [...text.matchAll(pattern)].map((m) => Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
}

// ---------------------------------------------------------------- certificates

/**
 * What issuing and renewing need from a certificate: the exact subject bytes (the
 * leaf's issuer must match them byte for byte), validity and key identifier.
 * @param {string} pem
 */
function parseCertificate(pem) {
  const [der] = pemBlocks(pem, "CERTIFICATE");
  if (!der) throw new Error("no CERTIFICATE block");
  const [tbs] = childrenOf(der, readNode(der, 0));
  const fields = childrenOf(der, tbs);
  // After the optional version: serial, signature algorithm, issuer, validity, subject, key, then [1] [2] [3].
  const [, , , validity, subject, spki, ...optional] = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
  if (!validity || !subject || !spki) throw new Error("DER: TBSCertificate is missing fields");
  const [notBefore, notAfter] = childrenOf(der, validity).map((t) => readTime(der, t));
  const extensions = optional.find((f) => f.tag === 0xa3);
  const keyId = extensions ? findSubjectKeyId(der, extensions) : undefined;
  return {
    der,
    subject: der.subarray(subject.start, subject.end),
    notBefore,
    notAfter,
    keyId: keyId ?? keyIdOf(der.subarray(spki.start, spki.end)),
  };
}

/** @param {Buffer} der @param {Node} extensionsTag */
function findSubjectKeyId(der, extensionsTag) {
  const wanted = oid(OID.subjectKeyIdentifier);
  for (const ext of childrenOf(der, childrenOf(der, extensionsTag)[0])) {
    const parts = childrenOf(der, ext);
    if (!der.subarray(parts[0].start, parts[0].end).equals(wanted)) continue;
    const value = contentOf(der, parts[parts.length - 1]);
    return contentOf(value, readNode(value, 0));
  }
  return undefined;
}

/**
 * RFC 5280 method 1: SHA-1 of the subjectPublicKey bits, which is what the
 * authorityKeyIdentifier of issued certificates points back to.
 * @param {Buffer} spki
 */
function keyIdOf(spki) {
  const [, publicKey] = childrenOf(spki, readNode(spki, 0));
  return crypto.createHash("sha1").update(contentOf(spki, publicKey).subarray(1)).digest();
}

/** @param {string} commonName */
const distinguishedName = (commonName) => sequence(set(sequence(oid(OID.commonName), utf8String(commonName))));

/** @param {string} id @param {boolean} critical @param {Buffer} value */
function extension(id, critical, value) {
  // DER omits a BOOLEAN that equals its DEFAULT (critical is FALSE by default).
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** 16 random bytes, positive and non-zero as RFC 5280 asks of serial numbers. */
function randomSerial() {
  for (;;) {
    const bytes = crypto.randomBytes(16);
    bytes[0] &= 0x7f;
    if (bytes.some((b) => b !== 0)) return bytes;
  }
}

/**
 * @param {{ issuer: Buffer, subject: Buffer, notBefore: Date, notAfter: Date, spki: Buffer, extensions: Buffer[] }} fields
 * @param {crypto.KeyObject} signingKey
 */
function signCertificate(fields, signingKey) {
  const algorithm = sequence(oid(OID.ecdsaWithSha256)); // ECDSA takes no parameters, not even NULL
  const tbs = sequence(
    explicit(0, integer(2)), // v3
    integer(randomSerial()),
    algorithm,
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.spki,
    explicit(3, sequence(...fields.extensions)),
  );
  const signature = crypto.sign("sha256", tbs, signingKey); // DER ECDSA-Sig-Value
  return toPem("CERTIFICATE", sequence(tbs, algorithm, bitString(signature)));
}

function newKeyPair() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { privateKey, spki: publicKey.export({ type: "spki", format: "der" }) };
}

/** @param {crypto.KeyObject} key */
const privateKeyPem = (key) => String(key.export({ type: "pkcs8", format: "pem" }));

/**
 * Whole seconds, since certificates cannot say more and callers compare the
 * dates they asked for with the ones they get.
 * @param {Date} now @param {number} days
 */
function validity(now, days) {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError("now must be a valid Date");
  if (!(typeof days === "number" && Number.isFinite(days) && days > 0)) throw new RangeError(`days must be a positive number, got ${days}`);
  const seconds = (/** @type {number} */ ms) => new Date(Math.floor(ms / 1000) * 1000);
  return { notBefore: seconds(now.getTime() - CLOCK_SKEW_MS), notAfter: seconds(now.getTime() + days * DAY_MS) };
}

/** @param {string} name */
function isDnsName(name) {
  const labels = name.split(".");
  return name.length <= 253 && labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/** @param {readonly string[]} dnsNames */
function checkDnsNames(dnsNames) {
  if (!Array.isArray(dnsNames) || dnsNames.length === 0) throw new TypeError("dnsNames must list at least one DNS name");
  const bad = dnsNames.filter((n) => typeof n !== "string" || !isDnsName(n));
  if (bad.length > 0) throw new TypeError(`not DNS names: ${bad.map((n) => JSON.stringify(n)).join(", ")}`);
}

/** @param {CaOptions} options @returns {KeyPair} */
function createCa({ commonName, days, now }) {
  if (typeof commonName !== "string" || commonName === "") throw new TypeError("commonName must be a non-empty string");
  const { notBefore, notAfter } = validity(now, days);
  const { privateKey, spki } = newKeyPair();
  const name = distinguishedName(commonName);
  const extensions = [
    // pathLen 0: this CA signs the webhook's certificate, never another CA.
    extension(OID.basicConstraints, true, sequence(boolean(true), integer(0))),
    extension(OID.keyUsage, true, namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdOf(spki))),
  ];
  const cert = signCertificate({ issuer: name, subject: name, notBefore, notAfter, spki, extensions }, privateKey);
  return { cert, key: privateKeyPem(privateKey) };
}

/** @param {KeyPair} ca @param {ServingOptions} options @returns {KeyPair} */
function issueServing(ca, { dnsNames, days, now }) {
  checkDnsNames(dnsNames);
  const issuer = parseCertificate(ca.cert);
  const caKey = crypto.createPrivateKey(ca.key);
  if (!new crypto.X509Certificate(ca.cert).checkPrivateKey(caKey)) throw new Error("the CA key does not belong to the CA certificate");
  const wanted = validity(now, days);
  // A leaf that outlives its CA would look valid but fail verification at the end.
  const notAfter = wanted.notAfter > issuer.notAfter ? issuer.notAfter : wanted.notAfter;
  if (notAfter <= wanted.notBefore) throw new RangeError(`the CA expired at ${issuer.notAfter.toISOString()}`);
  const { privateKey, spki } = newKeyPair();
  const extensions = [
    extension(OID.basicConstraints, true, sequence()), // cA defaults to FALSE, so DER leaves it out
    extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
    extension(OID.subjectAltName, false, sequence(...dnsNames.map((n) => implicit(2, ascii(n))))),
    extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, issuer.keyId))),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdOf(spki))),
  ];
  // RFC 5280 caps a CN at 64 characters and clients match the SANs anyway: the CN is just
  // the first name's first label (the service name), which DNS keeps to 63.
  const commonName = dnsNames[0].split(".")[0];
  const fields = { issuer: issuer.subject, subject: distinguishedName(commonName), notBefore: wanted.notBefore, notAfter, spki, extensions };
  return { cert: signCertificate(fields, caKey), key: privateKeyPem(privateKey) };
}

/** A certificate both OpenSSL and our reader accept, or null. @param {unknown} pem */
function readCertificate(pem) {
  if (typeof pem !== "string") return null;
  try {
    new crypto.X509Certificate(pem);
    return parseCertificate(pem);
  } catch {
    return null;
  }
}

/** @param {KeyPair} pair */
function keyMatches(pair) {
  try {
    return new crypto.X509Certificate(pair.cert).checkPrivateKey(crypto.createPrivateKey(pair.key));
  } catch {
    return false;
  }
}

/** @param {TlsBundle | null} previous @param {RenewOptions} options @returns {TlsBundle} */
function renew(previous, { dnsNames, days, caDays, now }) {
  const { notBefore: skewed } = validity(now, days);
  const at = new Date(skewed.getTime() + CLOCK_SKEW_MS); // now, in whole seconds
  const validThrough = (/** @type {{ notBefore: Date, notAfter: Date }} */ c, /** @type {Date} */ until) => c.notBefore <= at && c.notAfter > until;
  const prior = previous && previous.format === 1 && previous.ca ? previous : null;
  const priorCa = prior ? readCertificate(prior.ca.cert) : null;
  // Reuse only while the CA outlives the next serving certificate by a day.
  const mustOutlive = new Date(at.getTime() + (days + 1) * DAY_MS);

  /** @type {KeyPair} */
  let ca;
  /** @type {Buffer[]} */
  let extraCas;
  if (prior && priorCa && validThrough(priorCa, mustOutlive) && keyMatches(prior.ca)) {
    ca = { cert: prior.ca.cert, key: prior.ca.key };
    // Older CAs still in the bundle keep trusting serving certs some pod may still
    // present; they leave once expired.
    const bundled = pemBlocks(typeof prior.caBundle === "string" ? prior.caBundle : "", "CERTIFICATE");
    extraCas = bundled.flatMap((der) => {
      const extra = readCertificate(toPem("CERTIFICATE", der));
      return extra && !extra.der.equals(priorCa.der) && validThrough(extra, at) ? [extra.der] : [];
    });
  } else {
    ca = createCa({ commonName: CA_COMMON_NAME, days: caDays, now });
    // The API server must keep trusting the old serving cert until pods pick up the new one.
    extraCas = priorCa && validThrough(priorCa, at) ? [priorCa.der] : [];
  }
  const caCert = parseCertificate(ca.cert);
  const tls = issueServing(ca, { dnsNames, days, now });
  return {
    format: 1,
    ca,
    caBundle: [caCert.der, ...extraCas].map((der) => toPem("CERTIFICATE", der)).join(""),
    tls,
    notAfter: parseCertificate(tls.cert).notAfter.toISOString(),
    caNotAfter: caCert.notAfter.toISOString(),
  };
}

// ---------------------------------------------------------------- command line

class UsageError extends Error {}

/** @param {string} name @param {string | undefined} value @param {string} problem @param {string} fix */
function usage(name, value, problem, fix) {
  const shown = value === undefined ? "" : `=${JSON.stringify(value)}`;
  return new UsageError(`webhook-tls: ${name}${shown} ${problem}; ${fix}`);
}

/** @param {NodeJS.ProcessEnv} env @param {string} name @param {number} min @param {number} max */
function readDays(env, name, min, max) {
  const value = env[name];
  const fix = `set it to a whole number of days from ${min} to ${max}`;
  if (value === undefined || value.trim() === "") throw usage(name, value, "is not set", fix);
  if (!/^\s*\d+\s*$/.test(value)) throw usage(name, value, "is not a whole number", fix);
  const days = Number(value);
  if (days < min || days > max) throw usage(name, value, "is out of range", fix);
  return days;
}

/** @param {NodeJS.ProcessEnv} env */
function readSettings(env) {
  const raw = env.NRI_TLS_DNS_NAMES;
  const namesFix = "set it to comma-separated DNS names, e.g. svc.ns.svc,svc.ns.svc.cluster.local";
  if (raw === undefined || raw.trim() === "") throw usage("NRI_TLS_DNS_NAMES", raw, "is not set", namesFix);
  const dnsNames = [...new Set(raw.split(",").map((n) => n.trim()))];
  const bad = dnsNames.filter((n) => !isDnsName(n));
  if (bad.length > 0) throw usage("NRI_TLS_DNS_NAMES", raw, `has entries that are not DNS names (${bad.map((n) => JSON.stringify(n)).join(", ")})`, namesFix);
  const days = readDays(env, "NRI_TLS_DAYS", 1, MAX_DAYS);
  const caDays = readDays(env, "NRI_TLS_CA_DAYS", days + 1, MAX_CA_DAYS);
  return { dnsNames, days, caDays };
}

/** The previous bundle, or null to start over. @param {string | undefined} stdout @returns {TlsBundle | null} */
function readPrevious(stdout) {
  if (stdout === undefined || stdout.trim() === "") return null;
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(stdout);
  } catch (error) {
    warn(`PULUMI_COMMAND_STDOUT is not JSON (${error instanceof Error ? error.message : error}); issuing a new CA`);
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || /** @type {{ format?: unknown }} */ (parsed).format !== 1) {
    warn("PULUMI_COMMAND_STDOUT is not a format 1 bundle; issuing a new CA");
    return null;
  }
  return /** @type {TlsBundle} */ (parsed);
}

/** @param {string} message */
function warn(message) {
  process.stderr.write(`webhook-tls: warning: ${message}\n`);
}

/** Reads the environment, prints the bundle; returns the exit code. */
function main() {
  let settings;
  try {
    settings = readSettings(process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const previous = readPrevious(process.env.PULUMI_COMMAND_STDOUT);
  const bundle = renew(previous, { ...settings, now: new Date() });
  process.stdout.write(`${JSON.stringify(bundle)}\n`);
  return 0;
}

module.exports = { createCa, issueServing, renew, main };

// Run as a program, never when required as a library: `node webhook-tls.js` makes
// this module require.main, and `node -` (stdin) leaves require.main unset.
if (process.env.NRI_TLS_MAIN === "1" && (require.main === module || require.main === undefined)) {
  process.exitCode = main();
}
