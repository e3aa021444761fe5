#!/bin/sh
# Entrypoint of Slipway's mirrored docker:dind image: the upstream image's interface without TLS
# (DOCKER_TLS_CERTDIR empty): dockerd on unix:///var/run/docker.sock and tcp://0.0.0.0:2375, extra flags as args.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  # cgroup v2 hosts: move this process out of the root cgroup so that nested cgroups can be enabled
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || :
  fi
  mountpoint -q /sys/kernel/security 2>/dev/null || mount -t securityfs none /sys/kernel/security 2>/dev/null || :
  mountpoint -q /tmp || mount -t tmpfs none /tmp 2>/dev/null || :
  set -- dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false $SLIPWAY_DOCKERD_FLAGS "$@"
fi
exec "$@"
