#!/bin/bash
# Runs inside a lab guest as /opt/kvs/setup (the node-tools disk, lab/kubelet/node-disk.sh): makes
# the guest a Kubernetes node. The lab (lab/kubelet/kubelets.ts) sends the node's own files as a tar
# on stdin, paths relative to / (kubeconfigs, certificates, kubelet, kube-proxy and containerd
# configuration, the primary CNI network, the cluster NIC's address); this script adds what is the
# same on every node (systemd units, kernel settings, the base CNI plugins) and starts containerd,
# the kubelet and kube-proxy. Idempotent: a second run writes the same files and restarts the three
# services so they read them (running pods survive). Everything it writes survives a reboot.
set -euo pipefail

KVS=/opt/kvs
UNITS=/etc/systemd/system

[[ -x $KVS/bin/kubelet ]] || {
  echo "setup: $KVS is not the node-tools disk (no $KVS/bin/kubelet)" >&2
  exit 1
}

# The tools disk comes back at every boot, before containerd.
grep -q ' /opt/kvs ' /etc/fstab || echo 'LABEL=kvs-tools /opt/kvs ext4 ro,nofail 0 0' >>/etc/fstab

# The node's own files.
tar -x -C / --no-same-owner --no-overwrite-dir -f -
chmod 0600 /etc/kubernetes/*.kubeconfig /etc/kubernetes/pki/*.key 2>/dev/null || true

# What a kubelet node needs from the kernel: overlayfs for containerd, bridged traffic through
# iptables (kube-proxy's service rules for pods on the bridge), forwarding between pods and nodes.
printf '%s\n' overlay br_netfilter >/etc/modules-load.d/kvs-kubelet.conf
modprobe overlay
modprobe br_netfilter
cat >/etc/sysctl.d/90-kvs-kubelet.conf <<'EOF'
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
EOF
sysctl -q -p /etc/sysctl.d/90-kvs-kubelet.conf

# Base CNI plugins (Multus and the SR-IOV CNI copy theirs beside them at runtime).
install -d /opt/cni/bin /etc/cni/net.d
for p in "$KVS"/cni/*; do
  cmp -s "$p" "/opt/cni/bin/${p##*/}" || install -m 0755 "$p" "/opt/cni/bin/${p##*/}"
done

write_unit() { # write_unit NAME: the unit text on stdin; reports whether it changed
  local new
  new=$(cat)
  if [[ ! -f $UNITS/$1 ]] || [[ $(cat "$UNITS/$1") != "$new" ]]; then
    printf '%s\n' "$new" >"$UNITS/$1"
    changed=1
  fi
}
changed=0

write_unit containerd.service <<'EOF'
[Unit]
Description=containerd (kubevirt-sriov lab node tools)
After=network.target local-fs.target opt-kvs.mount
RequiresMountsFor=/opt/kvs

[Service]
Environment=PATH=/opt/kvs/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/opt/kvs/bin/containerd --config /etc/containerd/config.toml
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=2
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
EOF

# After kvs-sriov-vfs (the program's boot unit, when present): VFs exist before the device plugin
# and the kubelet look for them.
write_unit kubelet.service <<'EOF'
[Unit]
Description=kubelet (kubevirt-sriov lab node tools)
After=containerd.service network-online.target
Wants=network-online.target
Requires=containerd.service
RequiresMountsFor=/opt/kvs

[Service]
Environment=PATH=/opt/kvs/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/opt/kvs/bin/kubelet --config=/etc/kubernetes/kubelet.yaml --kubeconfig=/etc/kubernetes/kubelet.kubeconfig --node-ip=${NODE_IP} --hostname-override=${NODE_NAME} --node-labels=${NODE_LABELS}
EnvironmentFile=/etc/kubernetes/kubelet.env
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
EOF

write_unit kube-proxy.service <<'EOF'
[Unit]
Description=kube-proxy (kubevirt-sriov lab node tools)
After=network-online.target
Wants=network-online.target
RequiresMountsFor=/opt/kvs

[Service]
Environment=PATH=/opt/kvs/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/opt/kvs/bin/kube-proxy --config=/etc/kubernetes/kube-proxy.yaml
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
EOF

# crictl talks to containerd.
printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n' >/etc/crictl.yaml
ln -sf /opt/kvs/bin/crictl /usr/local/bin/crictl
ln -sf /opt/kvs/bin/ctr /usr/local/bin/ctr

# The cluster NIC's address (a systemd-networkd file in the tar).
networkctl reload >/dev/null 2>&1 || systemctl restart systemd-networkd

if ((changed)); then systemctl daemon-reload; fi
systemctl enable --quiet containerd kubelet kube-proxy
for u in containerd kubelet kube-proxy; do
  if systemctl is-active --quiet "$u"; then
    systemctl restart "$u"
  else
    systemctl start "$u"
  fi
done
echo "setup: $(cat /etc/hostname) runs containerd, kubelet and kube-proxy ($(tr '\n' ' ' <"$KVS/VERSIONS"))"
