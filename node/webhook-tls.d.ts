// Types of webhook-tls.js: CA and serving certificate for the network-resources-injector webhook
// (built with @peculiar/x509, hence asynchronous).

/** A PEM certificate and its PEM (PKCS#8 "PRIVATE KEY") private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** What the program prints, and reads back from PULUMI_COMMAND_STDOUT on the next run. */
export interface TlsBundle {
  format: 1;
  ca: KeyPair;
  /** PEM certificates to trust: the current CA first, then older CAs that are still valid. */
  caBundle: string;
  /** The webhook's serving certificate, signed by `ca`. */
  tls: KeyPair;
  /** ISO time the serving certificate expires. */
  notAfter: string;
  /** ISO time the CA expires. */
  caNotAfter: string;
}

export interface CaOptions {
  commonName: string;
  days: number;
  now: Date;
}

export interface ServingOptions {
  /** At least one; the first is also the subject common name. */
  dnsNames: readonly string[];
  days: number;
  now: Date;
}

export interface RenewOptions extends ServingOptions {
  /** Lifetime of a newly made CA; should exceed `days`. */
  caDays: number;
}

export function createCa(options: CaOptions): Promise<KeyPair>;
/** Refuses a `ca` that is not a CA: basicConstraints cA, keyCertSign, ECDSA P-256, its own key. */
export function issueServing(ca: KeyPair, options: ServingOptions): Promise<KeyPair>;
/**
 * Issues a new serving certificate. Reuses `previous.ca` only when it is a CA that can sign
 * (see issueServing) and stays valid for the new certificate's lifetime plus a day;
 * otherwise makes a new CA and keeps the old one in `caBundle` while it is a valid CA.
 */
export function renew(previous: TlsBundle | null, options: RenewOptions): Promise<TlsBundle>;
/**
 * Reads NRI_TLS_* and PULUMI_COMMAND_STDOUT, prints the bundle; resolves to the exit code
 * (2: bad setting, 3: @peculiar/x509 cannot be loaded from the working directory).
 */
export function main(): Promise<number>;
