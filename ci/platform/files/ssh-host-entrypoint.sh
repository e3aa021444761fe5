#!/bin/sh
# Entrypoint of the SSH test host (slipway/ssh-host): a second machine as deploys reach one, over SSH only. The user
# "deploy" (group docker) logs in with the key in /etc/slipway-ssh/authorized_keys; sshd presents the host key
# /etc/slipway-ssh/ssh_host_ed25519_key (both mounted read-only from the deploying host's cache). dockerd listens on
# its unix socket only, which a deploy reaches by SSH stream forwarding; nothing else listens.
set -e
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  # cgroup v2: leave the root cgroup so that dockerd can enable nested controllers
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || :
fi
mountpoint -q /tmp || mount -t tmpfs none /tmp 2>/dev/null || :
id deploy >/dev/null 2>&1 || useradd --create-home --shell /bin/sh --groups docker --password "*" deploy
install -d -m 700 -o deploy -g deploy /home/deploy/.ssh
install -m 600 -o deploy -g deploy /etc/slipway-ssh/authorized_keys /home/deploy/.ssh/authorized_keys
install -m 600 /etc/slipway-ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -d -m 755 /run/sshd
rm -f /var/run/docker.pid
dockerd >/var/log/dockerd.log 2>&1 &
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
