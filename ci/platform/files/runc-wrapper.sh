#!/bin/sh
# runc wrapper installed by Slipway where the host's capability bounding set lacks CAP_SYS_RESOURCE (some VMs and
# sandboxes): a privileged container asks for every capability, runc then fails with "unable to apply caps:
# operation not permitted". This drops CAP_SYS_RESOURCE from the OCI spec (bundle config.json for create/run,
# the --process file for exec) and hands over to the real runc with the arguments unchanged.
real=${SLIPWAY_REAL_RUNC:-@REAL_RUNC@}
drop() { # $1: json file, $2: jq path of the capabilities object
  [ -f "$1" ] || return 0
  tmp="$1.slipway.$$"
  jq "if $2 then $2 |= with_entries(.value |= (if type == \"array\" then map(select(. != \"CAP_SYS_RESOURCE\")) else . end)) else . end" "$1" > "$tmp" && mv "$tmp" "$1"
}
cmd= bundle=. process= prev=
for a in "$@"; do
  case "$prev" in
    --bundle|-b) bundle=$a ;;
    --process|-p) process=$a ;;
  esac
  case "$a" in
    --bundle=*) bundle=${a#--bundle=} ;;
    --process=*) process=${a#--process=} ;;
    create|run|exec) [ -z "$cmd" ] && cmd=$a ;;
  esac
  prev=$a
done
case "$cmd" in
  create|run) drop "$bundle/config.json" .process.capabilities ;;
  exec) [ -n "$process" ] && drop "$process" .capabilities ;;
esac
exec "$real" "$@"
