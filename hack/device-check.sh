#!/usr/bin/env bash
# device-check: the checks that need the GPU machine (when a task is lent
# one): --gpus with real NVIDIA device nodes, and container placement below
# a job cgroup on a cgroup v2 host. Run from the repository root with
# .device/ holding a static dockless, hack/registry and a static busybox:
#   CGO_ENABLED=1 go build -tags 'seccomp netgo osusergo' -ldflags '-extldflags "-static"' -o .device/dockless ./cmd/dockless
#   CGO_ENABLED=0 go build -o .device/registry ./hack/registry; cp /bin/busybox .device/
set -u
D=$(pwd)/.device
rm -rf /tmp/dl-addr /tmp/dl-cid /tmp/dl-root /tmp/dl-state
out=${OUT:-/tmp}
exec > >(tee "$out/device-check.log") 2>&1
step() { printf '\n== %s\n' "$*"; }
step machine; uname -r; id; grep -c . /proc/self/cgroup; cat /proc/self/cgroup; mount | grep cgroup; ls -l /dev/nvidia* 2>&1 | head
"$D/registry" -busybox "$D/busybox" -addr-file /tmp/dl-addr >/dev/null &
for _ in $(seq 50); do [ -s /tmp/dl-addr ] && break; sleep 0.1; done
img=$(cat /tmp/dl-addr)/demo/busybox:latest
dl=("$D/dockless" --root /tmp/dl-root --state /tmp/dl-state)
step pull; "${dl[@]}" pull -q "$img"
step run; "${dl[@]}" run --rm -q "$img" sh -c 'id; echo ok'; echo "exit $?"
step "--gpus all"; "${dl[@]}" run --rm -q --gpus all "$img" sh -c 'ls /dev | grep nvidia; echo NVIDIA_VISIBLE_DEVICES=$NVIDIA_VISIBLE_DEVICES; head -c 0 /dev/nvidia0 && echo nvidia0-opens; head -c 0 /dev/nvidiactl && echo nvidiactl-opens'; echo "exit $?"
step "--gpus device=0"; "${dl[@]}" run --rm -q --gpus device=0 "$img" sh -c 'ls /dev | grep -c "^nvidia[0-9]"'; echo "exit $?"
step "no --gpus: no GPU nodes"; "${dl[@]}" run --rm -q "$img" sh -c 'ls /dev | grep nvidia || echo none'
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	step "cgroup v2: container below a job cgroup"
	J=/sys/fs/cgroup/dltest-job
	mkdir -p $J
	for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; done
	echo "job controllers: $(cat $J/cgroup.controllers)"
	sh -c "echo \$\$ > $J/cgroup.procs; exec ${dl[*]} run --rm -q -m 64m --cidfile /tmp/dl-cid $img sleep 3" &
	job=$!
	sleep 1.5
	id=$(cat /tmp/dl-cid)
	echo "job cgroup tree:"; find $J -maxdepth 2 -type d
	echo "job subtree_control: $(cat $J/cgroup.subtree_control)"
	pid=$("${dl[@]}" inspect -f '{{.State.Pid}}' "${id:0:12}")
	echo "container init $pid cgroup: $(cat /proc/$pid/cgroup)"
	echo "container memory.max: $(cat $J/dockless-${id:0:12}/memory.max 2>&1)"
	wait $job; echo "job exit $?"
	echo "after the job: $(find $J -maxdepth 2 -type d | tr '\n' ' ') subtree_control='$(cat $J/cgroup.subtree_control)'"
	rmdir $J && echo "job cgroup removable: nothing left behind"
fi
step done
