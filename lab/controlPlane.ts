// The lab's Kubernetes control plane: a real etcd, kube-apiserver and kube-controller-manager
// (namespace controller and garbage collector, so namespace deletes finish) on loopback,
// credentials made with openssl, everything under the lab directory.
// With `kubelets` (the real-kubelet lab, lab/kubelet/): also kube-scheduler, the controllers that
// run workloads (DaemonSets, ReplicaSets, node lifecycle, the kube-root-ca.crt publisher), the Node
// authorizer with NodeRestriction, ServiceAccount admission (pods get their tokens), and the
// apiserver advertised at the address guests reach it on (lab/kubelet/nodeConfig.ts), so that the
// `kubernetes` service's endpoints lead pods to it.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { daemonPid, logFile, startDaemon, stopDaemon, waitFor } from "./processes";

export interface ControlPlanePorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
}

export interface KubeletControlPlane {
  /** The address the kubelets reach the apiserver on: advertised, and in its serving certificate. */
  advertiseAddress: string;
  /** Where kube-scheduler is (the kube-node tool's bin dir), asked only when the plane starts. */
  schedulerBin: () => string;
}

export class ControlPlane {
  readonly pki: string;
  readonly kubeconfig: string;

  /** `bin`: where the toolchain's binaries are, asked only when the plane starts. */
  constructor(
    readonly dir: string,
    private readonly toolchainBin: () => string,
    readonly ports: ControlPlanePorts,
    readonly kubelets?: KubeletControlPlane,
  ) {
    this.pki = path.join(dir, "pki");
    this.kubeconfig = path.join(dir, "kubeconfig");
  }

  get url(): string {
    return `https://127.0.0.1:${this.ports.apiserver}`;
  }

  private openssl(...args: string[]): void {
    execFileSync("openssl", args, { cwd: this.pki, stdio: ["ignore", "ignore", "pipe"] });
  }

  /** A CA, an admin client certificate (system:masters) and the service-account key pair. */
  private makeCredentials(): void {
    if (fs.existsSync(path.join(this.pki, "admin.crt"))) return;
    fs.mkdirSync(path.join(this.pki, "serving"), { recursive: true });
    this.openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "30",
      "-subj",
      "/CN=kubevirt-sriov-lab-ca",
    );
    this.openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "admin.key",
      "-out",
      "admin.csr",
      "-subj",
      "/O=system:masters/CN=lab-admin",
    );
    this.openssl(
      "x509",
      "-req",
      "-in",
      "admin.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "admin.crt",
      "-days",
      "30",
    );
    this.openssl("genrsa", "-out", "sa.key", "2048");
    this.openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
  }

  private writeKubeconfig(): void {
    const b64 = (f: string) => fs.readFileSync(path.join(this.pki, f)).toString("base64");
    const doc = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        { name: "lab", cluster: { server: this.url, "certificate-authority-data": b64("serving/apiserver.crt") } },
      ],
      users: [
        {
          name: "lab-admin",
          user: { "client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key") },
        },
      ],
      contexts: [{ name: "lab", context: { cluster: "lab", user: "lab-admin" } }],
      "current-context": "lab",
    };
    fs.writeFileSync(this.kubeconfig, JSON.stringify(doc, null, 2), { mode: 0o600 });
  }

  async start(): Promise<void> {
    const bin = this.toolchainBin();
    this.makeCredentials();
    const logs = path.join(this.dir, "logs");
    fs.mkdirSync(logs, { recursive: true });
    const etcdUrl = `http://127.0.0.1:${this.ports.etcdClient}`;
    startDaemon(this.dir, "etcd", path.join(bin, "etcd"), [
      "--name",
      "lab",
      "--data-dir",
      path.join(this.dir, "etcd"),
      "--unsafe-no-fsync",
      "--listen-client-urls",
      etcdUrl,
      "--advertise-client-urls",
      etcdUrl,
      "--listen-peer-urls",
      `http://127.0.0.1:${this.ports.etcdPeer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${this.ports.etcdPeer}`,
      "--initial-cluster",
      `lab=http://127.0.0.1:${this.ports.etcdPeer}`,
    ]);
    await waitFor(
      "etcd",
      async () =>
        this.alive("etcd") &&
        (await fetch(`${etcdUrl}/health`)
          .then((r) => r.ok)
          .catch(() => false)),
      30_000,
    );

    const k = this.kubelets;
    startDaemon(this.dir, "kube-apiserver", path.join(bin, "kube-apiserver"), [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      ...(k
        ? // The self-signed serving certificate names the advertise address and 10.96.0.1; the
          // lease reconciler points the `kubernetes` service there (a guestfwd leads to 127.0.0.1).
          [
            `--advertise-address=${k.advertiseAddress}`,
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
          ]
        : // A loopback advertise address needs the endpoint reconciler off (1.37 refuses it); no
          // pod runs, so no service account token is ever mounted.
          [
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",
            "--authorization-mode=RBAC",
            "--disable-admission-plugins=ServiceAccount",
          ]),
      `--secure-port=${this.ports.apiserver}`,
      `--cert-dir=${path.join(this.pki, "serving")}`,
      `--client-ca-file=${path.join(this.pki, "ca.crt")}`,
      `--service-account-issuer=${this.url}`,
      `--service-account-key-file=${path.join(this.pki, "sa.pub")}`,
      `--service-account-signing-key-file=${path.join(this.pki, "sa.key")}`,
      "--service-cluster-ip-range=10.96.0.0/24",
      "--allow-privileged=true",
    ]);
    await waitFor(
      "kube-apiserver",
      async () =>
        this.alive("kube-apiserver") &&
        fs.existsSync(path.join(this.pki, "serving", "apiserver.crt")) &&
        (await this.get("/readyz")
          .then(() => true)
          .catch(() => false)),
      90_000,
    );
    this.writeKubeconfig();

    startDaemon(this.dir, "kube-controller-manager", path.join(bin, "kube-controller-manager"), [
      `--kubeconfig=${this.kubeconfig}`,
      `--controllers=namespace,garbagecollector,serviceaccount,serviceaccount-token${k ? ",daemonset,replicaset,deployment,nodelifecycle,podgc,root-ca-cert-publisher" : ""}`,
      `--service-account-private-key-file=${path.join(this.pki, "sa.key")}`,
      `--root-ca-file=${path.join(this.pki, "serving", "apiserver.crt")}`,
      "--use-service-account-credentials=false",
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      "--secure-port=0",
    ]);
    if (k) {
      startDaemon(this.dir, "kube-scheduler", path.join(k.schedulerBin(), "kube-scheduler"), [
        `--kubeconfig=${this.kubeconfig}`,
        `--authentication-kubeconfig=${this.kubeconfig}`,
        `--authorization-kubeconfig=${this.kubeconfig}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
      ]);
    }
  }

  /**
   * A client certificate signed by the lab CA (the apiserver's client CA): PEM cert and key.
   * Made once per `file` name under pki/.
   */
  clientCert(file: string, commonName: string, organization?: string): { cert: string; key: string } {
    const crt = path.join(this.pki, `${file}.crt`);
    if (!fs.existsSync(crt)) {
      const subj = `${organization ? `/O=${organization}` : ""}/CN=${commonName}`;
      this.openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        `${file}.key`,
        "-out",
        `${file}.csr`,
        "-subj",
        subj,
      );
      this.openssl(
        "x509",
        "-req",
        "-in",
        `${file}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${file}.crt`,
        "-days",
        "30",
      );
    }
    return { cert: fs.readFileSync(crt, "utf8"), key: fs.readFileSync(path.join(this.pki, `${file}.key`), "utf8") };
  }

  /** PEM of a file under pki/ (ca.crt: the client CA; serving/apiserver.crt: the serving chain). */
  pem(file: string): string {
    return fs.readFileSync(path.join(this.pki, file), "utf8");
  }

  /** True while `name` runs; throws with the end of its log once it has died (e.g. a port in use). */
  private alive(name: string): boolean {
    if (daemonPid(this.dir, name) !== undefined) return true;
    const log = fs.existsSync(logFile(this.dir, name))
      ? fs.readFileSync(logFile(this.dir, name), "utf8").trim().split("\n").slice(-3).join("\n")
      : "(no log)";
    throw new Error(
      `${name} exited (log: ${logFile(this.dir, name)}):\n${log}\nIf a port is in use, stop the other lab (npm run lab:down) or set KUBEVIRT_SRIOV_LAB_PORT_BASE.`,
    );
  }

  /** Stops the control plane: controller-manager and apiserver before etcd. */
  stop(): void {
    for (const name of ["kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"])
      stopDaemon(this.dir, name);
  }

  request(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        `${this.url}${urlPath}`,
        {
          method,
          // A fresh connection per request: Node 20's global agent keeps sockets alive, and one left
          // idle through a long `pulumi up` is closed by the apiserver under it (EPIPE on reuse).
          agent: false,
          ca: fs.readFileSync(path.join(this.pki, "serving", "apiserver.crt")),
          cert: fs.readFileSync(path.join(this.pki, "admin.crt")),
          key: fs.readFileSync(path.join(this.pki, "admin.key")),
          headers: payload ? { "content-type": "application/json" } : {},
          timeout: 10_000,
        },
        (res) => {
          let data = "";
          res.on("data", (c) => (data += c));
          res.on("end", () => {
            let parsed: unknown = data;
            try {
              parsed = JSON.parse(data);
            } catch {
              // Plain-text answers (/readyz) stay text.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** GET that fails on anything but 200. */
  async get(urlPath: string): Promise<any> {
    const r = await this.request("GET", urlPath);
    if (r.status !== 200) throw new Error(`GET ${urlPath}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return r.body;
  }

  /** GET that answers undefined for 404. */
  async find(urlPath: string): Promise<any> {
    const r = await this.request("GET", urlPath);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${urlPath}: HTTP ${r.status}`);
    return r.body;
  }

  /** The lab's Node objects (no kubelet registers them). */
  async ensureNode(name: string): Promise<void> {
    if (await this.find(`/api/v1/nodes/${name}`)) return;
    const r = await this.request("POST", "/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubevirt-sriov/lab": "true" },
      },
    });
    if (r.status !== 201)
      throw new Error(`creating Node ${name}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  }
}
