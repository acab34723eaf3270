#!/usr/bin/env bash
# runc-bats: runc's own integration suite (the bats files of the runc module
# whose libcontainer dockless embeds) against a runtime binary, with nothing
# downloaded but Go modules: the suite, the reference runc and runc's test
# helpers come from the Go module cache; the two test images are built from
# the host (busybox-static, and the host's Debian packages of priority
# "required" with their dependencies, in place of debian:buster-slim).
#
#   hack/runc-bats.sh prepare
#       builds the work directory once: prints its path.
#   hack/runc-bats.sh run RUNTIME [FILE...]
#       runs the bats files (names without .bats; all if none) with
#       RUNC=RUNTIME under script(1), for a terminal, as runc's CI does;
#       prints bats's TAP on stdout. "runc" is the reference runc.
#       $RUNC_BATS_FILTER, if set, is bats's --filter (a regular
#       expression the names of the tests to run match).
#
# go run ./hack/runcbats compares dockless-runc with runc on the suite.
#
# The work directory is $RUNC_BATS_DIR (default /var/tmp/dockless-runc-bats-
# VERSION); delete it to rebuild. The suite needs bats, jq, gawk and script.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
cd "$(dirname "$0")/.."
version=$(go list -m -f '{{.Version}}' github.com/opencontainers/runc)
work=${RUNC_BATS_DIR:-/var/tmp/dockless-runc-bats-$version}
src=$work/runc
tags="seccomp urfave_cli_no_docs"

# busybox_image TAR: the layout of docker-library's busybox, from the host's
# static busybox.
busybox_image() {
	local r
	r=$(mktemp -d "$work/busybox.XXXXXX")
	chmod 755 "$r"
	mkdir -p "$r"/{bin,dev,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
	chmod 700 "$r/root"
	chmod 1777 "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	local a
	for a in $(/bin/busybox --list); do
		[[ $a == busybox ]] || ln "$r/bin/busybox" "$r/bin/$a"
	done
	cat >"$r/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		bin:x:2:2:bin:/bin:/bin/false
		sys:x:3:3:sys:/dev:/bin/false
		sync:x:4:100:sync:/bin:/bin/sync
		mail:x:8:8:mail:/var/spool/mail:/bin/false
		www-data:x:33:33:www-data:/var/www:/bin/false
		operator:x:37:37:Operator:/var:/bin/false
		nobody:x:65534:65534:nobody:/home:/bin/false
	EOF
	cat >"$r/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		bin:x:2:
		sys:x:3:
		adm:x:4:
		tty:x:5:
		disk:x:6:
		lp:x:7:
		mail:x:8:
		kmem:x:9:
		wheel:x:10:root
		cdrom:x:11:
		dialout:x:18:
		floppy:x:19:
		video:x:28:
		audio:x:29:
		tape:x:32:
		www-data:x:33:
		operator:x:37:
		utmp:x:43:
		plugdev:x:46:
		staff:x:50:
		lock:x:54:
		netdev:x:82:
		users:x:100:
		nogroup:x:65534:
	EOF
	tar --numeric-owner -C "$r" -cf "$1" .
	rm -rf "$r"
}

# debian_image TAR: the installed packages of priority "required" (what a
# slim Debian image holds) and what they depend on, copied from the host,
# without documentation. The tar is not compressed whatever its name: tar
# -x detects that.
debian_image() {
	local r pkgs=() seen=" " queue p d
	r=$(mktemp -d "$work/debian.XXXXXX")
	chmod 755 "$r"
	mapfile -t queue < <(dpkg-query -W -f='${Package} ${Priority} ${Essential}\n' | awk '$2 == "required" || $3 == "yes" {print $1}')
	while ((${#queue[@]})); do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		[[ $seen == *" $p "* ]] && continue
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || continue
		seen+="$p "
		pkgs+=("$p")
		for d in $(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" | tr ',|' '\n\n' | sed 's/([^)]*)//; s/:any//' | awk 'NF {print $1}'); do
			queue+=("$d")
		done
	done
	# With a merged /usr, /bin and the like are links to where the files are.
	local links=() moved=()
	for d in /*; do
		[[ -L $d ]] || continue
		links+=("${d#/}")
		moved+=(-e "s|^$d/|$(readlink -f "$d")/|")
	done
	dpkg-query -L "${pkgs[@]}" 2>/dev/null | grep -vE '^/usr/share/(doc|man|info|locale)/' | sed "${moved[@]}" | sort -u |
		while read -r f; do
			if [[ -e $f && ! -d $f || -L $f ]]; then printf '%s\n' "${f#/}"; fi
		done >"$r.list"
	printf '%s\n' "${links[@]}" >>"$r.list"
	mkdir -p "$r"/{dev,proc,sys,tmp,root,run,var/tmp}
	chmod 1777 "$r/tmp" "$r/var/tmp"
	tar -C / --no-recursion -cf - -T "$r.list" | tar -C "$r" -xpf -
	# The host's users and groups, never its password hashes: every
	# account is locked in the image, as in debian:buster-slim.
	cp /etc/passwd /etc/group "$r/etc/"
	awk -F: '{print $1 ":*:19000:0:99999:7:::"}' /etc/passwd >"$r/etc/shadow"
	awk -F: '{print $1 ":*::"}' /etc/group >"$r/etc/gshadow"
	chmod 640 "$r/etc/shadow" "$r/etc/gshadow"
	tar --numeric-owner -C "$r" -cf "$1" .
	rm -rf "$r" "$r.list"
}

prepare() {
	[[ -e $work/ready ]] && { echo "$work"; return; }
	mkdir -p "$work"
	chmod 700 "$work"
	rm -rf "$src"
	cp -r "$(go mod download -json github.com/opencontainers/runc | jq -r .Dir)" "$src"
	# The module cache keeps no execute bits.
	chmod -R u+w "$src"
	find "$src" -name '*.sh' -exec chmod +x {} +
	(
		cd "$src"
		go build -trimpath -buildmode=pie -tags "$tags" -ldflags "-X main.gitCommit=$version" -o "$work/bin/runc" .
		mkdir -p tests/cmd/_bin
		for b in recvtty sd-helper seccompagent fs-idmap pidfd-kill remap-rootfs key_label; do
			go build -trimpath -tags "$tags" -o tests/cmd/_bin/ "./tests/cmd/$b"
		done
	) >&2
	local arch
	arch=$(go env GOARCH)
	busybox_image "$src/tests/integration/testdata/busybox-$arch.tar.xz"
	debian_image "$src/tests/integration/testdata/debian-$arch.tar.xz"
	touch "$work/ready"
	echo "$work"
}

# strays DIR lists the processes whose command line names DIR: what the
# tests of a run that used DIR left running.
strays() {
	local p
	for p in /proc/[0-9]*; do
		grep -qsF -- "$1" "$p/cmdline" && echo "${p#/proc/}"
	done
	return 0
}

# watch OUT DIR: once every test of the run writing the TAP file OUT has a
# result, gives bats 30 seconds to end, then kills what the tests left
# running (by pid): runc's suite leaks a recvtty when a test fails before
# recvtty wrote its pid file, and bats waits for its output pipe forever.
watch() {
	local out=$1 dir=$2 n p s
	# Its sleeps die with it (this node's init reaps orphans late).
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	while sleep 5 & s=$! && wait "$s"; do
		n=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out" | head -1)
		[[ -n $n ]] && (($(grep -cE '^(ok|not ok) ' "$out") >= n)) && break
	done
	sleep 30 &
	s=$!
	wait "$s"
	for p in $(strays "$dir"); do
		echo "# killing $(tr '\0' ' ' <"/proc/$p/cmdline"), left running by the tests" >>"$out"
		kill -9 "$p" 2>/dev/null
	done
}

run() {
	local rt=${1:?usage: hack/runc-bats.sh run RUNTIME [FILE...]}
	shift
	prepare >/dev/null
	[[ $rt == runc ]] && rt=$work/bin/runc
	rt=$(realpath -s "$rt")
	local files=() f
	for f in "$@"; do files+=("$f.bats"); done
	((${#files[@]})) || files=(.)
	local out in tmp cmd
	out=$(mktemp "$work/tap.XXXXXX")
	in=$(mktemp -u "$work/in.XXXXXX")
	mkfifo "$in"
	# Short: the tests make unix sockets below it.
	tmp=$(mktemp -d /tmp/runc-bats.XXXXXX)
	cmd=(bats --tap)
	[[ -n ${RUNC_BATS_FILTER:-} ]] && cmd+=(--filter "$RUNC_BATS_FILTER")
	cmd+=("${files[@]}")
	# bats's stdin is script's terminal (tty.bats needs one); its output
	# goes to a file, not through the terminal's line discipline. script's
	# own input is a FIFO opened read-write, which never ends: at the end
	# of its input script writes an EOF byte into the terminal, and a
	# runtime relaying that terminal into a container's (exec -t) would
	# see it as input.
	(cd "$src/tests/integration" && BATS_TMPDIR=$tmp RUNC=$rt script -q -e -c "${cmd[*]@Q} >$out 2>&1" /dev/null >/dev/null <>"$in") &
	local pid=$!
	watch "$out" "$tmp" &
	local watcher=$!
	wait "$pid" || true
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null || true
	cat "$out"
	rm -rf "$out" "$in" "$tmp"
	# The suite's parent cgroups, which its teardown leaves in the unified
	# hierarchy of a hybrid host (rmdir removes only empty ones).
	local left=/sys/fs/cgroup/unified/runc-cgroups-integration-test
	[[ -d $left ]] && find "$left" -depth -type d -exec rmdir {} + 2>/dev/null
	return 0
}

case ${1:-} in
prepare) prepare ;;
run) shift && run "$@" ;;
*)
	echo "usage: hack/runc-bats.sh prepare | run RUNTIME [FILE...]" >&2
	exit 2
	;;
esac
