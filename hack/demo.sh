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

step "an LSF job through the job starter: dockless lsf run, as an ordinary user"
# The site installs dockless setuid root and names it as JOB_STARTER; LSF
# runs it as the job user with the job's environment. Simulate that: a
# setuid copy whose policy lives in the demo directory, a job file in the
# user's spool, a job tmpdir, and the LSF job variables. The job is
# submitted from the user's project directory on the parallel filesystem:
# the working directory is bound like a volume (under allowed_prefixes).
go build -tags "seccomp urfave_cli_no_docs" -ldflags "-X github.com/dockless/dockless/policy.DefaultPath=$work/dockless.toml" -o "$work/suid/dockless" ./cmd/dockless
chmod 755 "$work" "$work/suid" && chmod 4755 "$work/suid/dockless"
cat >"$work/dockless.toml" <<POLICY
[store]
root = "$work/store"
state = "$work/state"
[job]
ulimits = ["memlock=8388608"]   # this node cannot grant the seed's memlock=-1
[volumes]
allowed_prefixes = ["$work/storage1"]
POLICY
chmod 644 "$work/dockless.toml"
juser=nobody; juid=$(id -u $juser); jgid=$(id -g $juser)
mkdir -p "$work/jobhome/.lsbatch" "$work/lsbtmp/23870.tmpdir" "$work/storage1/lab"
echo "results on GPFS" >"$work/storage1/lab/README"
cat >"$work/jobhome/.lsbatch/1580953421.23870" <<'JOB'
#!/bin/sh
echo "id:       $(id)"
echo "whoami:   $(whoami)"
echo "hostname: $(hostname)"
echo "cwd:      $(pwd)"
echo "/tmp is the job tmpdir: $(touch /tmp/x && ls $TMPDIR)"
echo "volume:   $(cat /lab/README)"
echo "PATH:     $PATH"
grep -E '^(CapBnd|NoNewPrivs):' /proc/self/status
exit 0
JOB
chown -R "$juid:$jgid" "$work/jobhome" "$work/lsbtmp/23870.tmpdir" "$work/storage1/lab" && chmod 700 "$work/lsbtmp/23870.tmpdir"
(cd "$work/storage1/lab" && setpriv --reuid "$juid" --regid "$jgid" --init-groups env -i \
	PATH=/usr/bin:/bin HOME="$work/jobhome" LSB_JOBID=23870 LSB_CONTAINER_IMAGE="$image" \
	TMPDIR="$work/lsbtmp/23870.tmpdir" LSF_BINDIR=/opt/lsf/bin LSF_DOCKER_VOLUMES="$work/storage1/lab:/lab" \
	LSF_DOCKER_RUN_LOGLEVEL=INFO "$work/suid/dockless" lsf run "$work/jobhome/.lsbatch/1580953421.23870")

step "the same job asking for /etc as a volume is refused, naming the rule"
(cd "$work/storage1/lab" && setpriv --reuid "$juid" --regid "$jgid" --init-groups env -i \
	HOME="$work/jobhome" LSB_JOBID=23870 LSB_CONTAINER_IMAGE="$image" TMPDIR="$work/lsbtmp/23870.tmpdir" \
	LSF_DOCKER_VOLUMES="/etc:/data" LSF_DOCKER_RUN_LOGLEVEL=ERROR "$work/suid/dockless" lsf run "$work/jobhome/.lsbatch/1580953421.23870") || echo "exit status: $?"

step "exit codes are the container's"
set +e
"${dl[@]}" run --rm -q "$image" sh -c 'exit 7'; echo "exit status: $?"
"${dl[@]}" run --rm -q "$image" no-such-command 2>&1; echo "exit status: $?"
set -e

step "nothing is left behind"
echo "mounts under the demo dir: $(grep -c "$work" /proc/self/mountinfo || true)"
echo "containers in the state dir: $(ls "$work/state/containers" | wc -l)"
