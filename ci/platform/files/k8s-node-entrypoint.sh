#!/bin/bash
# Entrypoint of the Kubernetes node (slipway/k8s-node): a one-node cluster in one privileged container, the control
# plane and the node together, started in order: containerd, etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy. Each writes /var/log/slipway/<name>.log; a component that exits stops the
# container (tini hands the exit on), and its restart policy starts the whole node again.
#
# Listeners: etcd and the controller-manager's and scheduler's health ports on 127.0.0.1 (the node's own loopback);
# the API server (6443) and the kubelet (10250) on the node's address with client certificates only (no anonymous
# access); pods' NodePorts as their Services say. The registry mirror is reached at 127.0.0.1:5000 inside the node
# through the deploying host's registry front (its unix socket mounted at /run/slipway/registry.sock).
#
# First start: the PKI (a cluster CA, the API server's serving certificate, one client certificate per component
# and the admin's) and the kubeconfigs are made under /var/lib/slipway-k8s (a volume), kept across restarts. The
# admin kubeconfig for the host is /var/lib/slipway-k8s/export/kubeconfig (the host's directory, root's only).
set -euo pipefail

STATE=/var/lib/slipway-k8s
PKI=$STATE/pki
CONF=$STATE/conf
LOGS=/var/log/slipway
NODE=${SLIPWAY_NODE_NAME:-slipway-k8s}
NODE_IP=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
SERVICE_CIDR=10.96.0.0/16
POD_CIDR=10.244.0.0/24
mkdir -p "$PKI" "$CONF" "$LOGS" "$STATE/export" /etc/cni/net.d /var/lib/kubelet
chmod 700 "$STATE"

# cgroups: the node's own root, as a machine's; shared mounts, so that the kubelet's volume mounts reach the pods
mount --make-rshared / 2>/dev/null || :
mountpoint -q /tmp || mount -t tmpfs none /tmp 2>/dev/null || :

# The kubelet sets six kernel-wide sysctls (vm.overcommit_memory, kernel.panic, ...) where it finds other values; a
# container shares them with the machine, which would change how this machine's kernel handles an oops or a panic.
# It finds them at its values in files of the node's own instead, and the machine's kernel stays as it was.
mkdir -p /run/slipway/sysctl
while read -r key value; do
  printf '%s\n' "$value" > "/run/slipway/sysctl/$key"
  mountpoint -q "/proc/sys/${key//.//}" || mount --bind "/run/slipway/sysctl/$key" "/proc/sys/${key//.//}"
done <<EOF
vm.overcommit_memory 1
vm.panic_on_oom 0
kernel.panic 10
kernel.panic_on_oops 1
kernel.keys.root_maxkeys 1000000
kernel.keys.root_maxbytes 25000000
EOF

# ---- the PKI, once ------------------------------------------------------------------------------------------------
cert() { # name, subject, [extensions]: a key and a certificate signed by the cluster CA
  local name=$1 subj=$2 ext=${3:-}
  [ -s "$PKI/$name.crt" ] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" $ext > "$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 \
    -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
if [ ! -s "$PKI/ca.crt" ]; then
  openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=slipway-kubernetes-ca" -days 3650 -out "$PKI/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
fi
[ -s "$PKI/sa.key" ] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null && openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
cert apiserver "/CN=kube-apiserver" \
  "extendedKeyUsage=serverAuth subjectAltName=IP:$NODE_IP,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
cert admin "/O=system:masters/CN=slipway-admin" "extendedKeyUsage=clientAuth"
cert controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
cert scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
cert kubelet "/O=system:nodes/CN=system:node:$NODE" "extendedKeyUsage=clientAuth"
cert kube-proxy "/CN=system:kube-proxy" "extendedKeyUsage=clientAuth"
chmod 600 "$PKI"/*.key

kubeconfig() { # name, server, user: a kubeconfig with the user's client certificate embedded
  local b64="base64 -w0"
  cat > "$3" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: slipway
  cluster:
    server: $2
    certificate-authority-data: $($b64 < "$PKI/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $($b64 < "$PKI/$1.crt")
    client-key-data: $($b64 < "$PKI/$1.key")
contexts:
- name: slipway
  context: { cluster: slipway, user: $1 }
current-context: slipway
EOF
  chmod 600 "$3"
}
API=https://$NODE_IP:6443
for c in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$c" "$API" "$CONF/$c.conf"; done
cp "$CONF/admin.conf" "$STATE/export/kubeconfig.tmp" && mv "$STATE/export/kubeconfig.tmp" "$STATE/export/kubeconfig"

# ---- configuration ----------------------------------------------------------------------------------------------
cat > /etc/cni/net.d/10-slipway.conflist <<EOF
{
  "cniVersion": "1.0.0",
  "name": "slipway",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

cat > "$CONF/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
clusterDomain: cluster.local
localStorageCapacityIsolation: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
EOF

cat > "$CONF/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $CONF/kube-proxy.conf }
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [ "$NODE_IP/32" ]
conntrack: { maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF

# ---- the components -------------------------------------------------------------------------------------------
start() { # name, command...: in the background, its output to its log
  local name=$1
  shift
  echo "$(date -u +%FT%TZ) starting $name" >> "$LOGS/$name.log"
  "$@" >> "$LOGS/$name.log" 2>&1 &
  echo $! > "/run/slipway-$name.pid"
}
wait_for() { # what, seconds, command...
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "slipway-k8s: $what did not come up within ${seconds}s; see $LOGS" >&2
  exit 1
}

# the registry mirror at the node's 127.0.0.1:5000, through the host's registry front
[ -S /run/slipway/registry.sock ] && start registry-forward socat TCP-LISTEN:5000,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:/run/slipway/registry.sock

start containerd containerd --config /etc/containerd/config.toml
wait_for containerd 30 ctr --address /run/containerd/containerd.sock version

start etcd etcd --name "$NODE" --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster "$NODE=http://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381 \
  --quota-backend-bytes 2147483648 --snapshot-count 10000
wait_for etcd 60 curl -fsS http://127.0.0.1:2381/health

start kube-apiserver kube-apiserver --advertise-address "$NODE_IP" --secure-port 6443 \
  --etcd-servers http://127.0.0.1:2379 --anonymous-auth=false \
  --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction --allow-privileged=false --profiling=false
wait_for kube-apiserver 120 kubectl --kubeconfig "$CONF/admin.conf" get --raw /readyz

common=(--bind-address 127.0.0.1 --leader-elect=false --profiling=false)
start kube-controller-manager kube-controller-manager "${common[@]}" --kubeconfig "$CONF/controller-manager.conf" \
  --authentication-kubeconfig "$CONF/controller-manager.conf" --authorization-kubeconfig "$CONF/controller-manager.conf" \
  --use-service-account-credentials --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR"
start kube-scheduler kube-scheduler "${common[@]}" --kubeconfig "$CONF/scheduler.conf" \
  --authentication-kubeconfig "$CONF/scheduler.conf" --authorization-kubeconfig "$CONF/scheduler.conf"

start kubelet kubelet --config "$CONF/kubelet.yaml" --kubeconfig "$CONF/kubelet.conf" \
  --hostname-override "$NODE" --node-ip "$NODE_IP" --root-dir /var/lib/kubelet
start kube-proxy kube-proxy --config "$CONF/kube-proxy.yaml" --hostname-override "$NODE"

echo "slipway-k8s: control plane and node started at $API"
# the first component to exit ends the node (tini passes the status on; Docker's restart policy starts it again)
set +e
wait -n
status=$?
for f in /run/slipway-*.pid; do kill "$(cat "$f")" 2>/dev/null; done
echo "slipway-k8s: a component exited ($status); see $LOGS" >&2
exit "$status"
