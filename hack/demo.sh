#!/usr/bin/env bash
# The main job of the README: serve a busybox image from a registry on
# 127.0.0.1, pull it with dockless into a scratch store, and run it the way
# the site's LSF wrapper runs a job container, printing what the container saw.
# Usage: hack/demo.sh [path/to/dockless]   (as root; `make demo` builds first)
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKLESS=$(realpath "${1:-bin/dockless}")
work=$(mktemp -d /tmp/dockless-demo.XXXXXX)
cleanup() {
	[[ -n ${regpid:-} ]] && kill "$regpid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/registry" ./hack/registry
"$work/registry" -addr-file "$work/addr" >/dev/null &
regpid=$!
for _ in $(seq 100); do [[ -s $work/addr ]] && break; sleep 0.1; done
image=$(cat "$work/addr")/demo/busybox:latest
dl=("$DOCKLESS" --root "$work/store" --state "$work/state")

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "dockless pull $image"
"${dl[@]}" pull "$image"

step "dockless images"
"${dl[@]}" images

step "a job container: the seed's user, groups, capabilities, limits and mounts"
mkdir -p "$work/home/.lsbatch" "$work/tmpdir"
cat >"$work/home/.lsbatch/1580953421.23870" <<'JOB'
#!/bin/sh
echo "id:        $(id)"
echo "hostname:  $(hostname)"
echo "cwd:       $(pwd)"
grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status | sed 's/^/status:    /'
echo "memory:    $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "cpu shares: $(cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || echo n/a)"
echo "memlock:   $(ulimit -l)"
echo "mounts:"
grep -E ' (/home/[^ ]*|/tmp|/etc/hosts|/dev/shm) ' /proc/self/mountinfo | awk '{print "  " $5 " (" $9 ")"}'
echo "LSF_NIOS_JOBSTATUS_INTERVAL=$LSF_NIOS_JOBSTATUS_INTERVAL"
JOB
chmod 755 "$work/home/.lsbatch/1580953421.23870"
chown -R 1000:100 "$work/home" "$work/tmpdir"
set -x
"${dl[@]}" run --rm --name lsf_23870_$$ -u 1000:100 --group-add 2000 \
	-v "$work/home:/home/alice" -w /home/alice -v "$work/tmpdir:/tmp" \
	-h "$(hostname)" --security-opt no-new-privileges \
	--cap-drop all --cap-add chown --cap-add kill --cap-add setpcap --cap-add IPC_LOCK --cap-add CAP_SYS_NICE \
	--cpu-shares 2 -m 4096m --memory-swap -1 --ulimit memlock=8388608 \
	-e LSF_NIOS_JOBSTATUS_INTERVAL=1 "$image" /home/alice/.lsbatch/1580953421.23870
{ set +x; } 2>/dev/null

step "exit codes are the container's"
set +e
"${dl[@]}" run --rm -q "$image" sh -c 'exit 7'; echo "exit status: $?"
"${dl[@]}" run --rm -q "$image" no-such-command 2>&1; echo "exit status: $?"
set -e

step "nothing is left behind"
echo "mounts under the demo dir: $(grep -c "$work" /proc/self/mountinfo || true)"
echo "containers in the state dir: $(ls "$work/state/containers" | wc -l)"
