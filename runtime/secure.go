package runtime

// #include <sys/resource.h>
// int dockless_caller_rlimit(int r, unsigned long long *cur, unsigned long long *max);
import "C"

import (
	"slices"

	"github.com/dockless/dockless/runtime/jobinit"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// The setuid entry guard (secure.c) runs as the binary's first C
// constructor, before runc's nsexec constructor and before the Go runtime
// reads its environment. It acts only on an exec the kernel marked
// AT_SECURE: dockless installed setuid root and run by someone else. Root
// starting dockless, and libcontainer starting its init (root exec'ing a
// sealed, non-setuid copy of the binary, see Init), are not AT_SECURE.
//
// For an AT_SECURE exec it
//   - refuses (exit 125) the argument "init" and any _LIBCONTAINER_*
//     variable: nsexec would otherwise read its whole configuration from
//     descriptors the caller chose and hand back a process that is root
//     with every capability;
//   - refuses an empty argument list;
//   - replaces the environment with PATH=/usr/sbin:/usr/bin:/sbin:/bin
//     (nothing at all when the caller passed none), before any library
//     can act on the caller's: PATH (containerd runs unpigz and igzip from
//     it, as root), XDG_RUNTIME_DIR and TMPDIR (temporary mounts),
//     SSL_CERT_FILE and SSL_CERT_DIR (trusted CAs), HTTPS_PROXY and friends
//     (where registry traffic goes), GODEBUG, GOMAXPROCS, TZ…;
//   - marks the descriptors from 3 up close-on-exec;
//   - lifts the resource limits through which the caller could end
//     dockless at a moment of their choosing, in the middle of work on the
//     shared store (CPU, file size, address space, data, open files), and
//     keeps the caller's for the container's process (withCallerRlimits).
//
// The caller's environment stays readable as data: the kernel keeps the
// strings as exec'd, and policy.CurrentCaller reads them from
// /proc/self/environ. Proxies and CAs for registries come from the policy
// ([registry] https_proxy, http_proxy, no_proxy; CAs in mirrors_dir).

// SecureExec reports whether this process was exec'd AT_SECURE (setuid
// root, run by another user): jobinit's reading of the auxiliary vector.
func SecureExec() bool { return jobinit.SecureExec() }

// CallerRlimits are the caller's resource limits where the setuid entry
// lifted dockless's own (by resource; secure.c says which it lifts); the
// others are dockless's.
func CallerRlimits() map[int]unix.Rlimit {
	limits := map[int]unix.Rlimit{}
	for t := range int(C.RLIM_NLIMITS) {
		var cur, max C.ulonglong
		if C.dockless_caller_rlimit(C.int(t), &cur, &max) != 0 {
			limits[t] = unix.Rlimit{Cur: uint64(cur), Max: uint64(max)}
		}
	}
	return limits
}

// withCallerRlimits adds to rl, for each limit the setuid entry lifted and
// rl does not set, the caller's own: the job runs under the limits LSF (or
// the user) gave it, only dockless runs without them.
func withCallerRlimits(rl []configs.Rlimit) []configs.Rlimit {
	for t, lim := range CallerRlimits() {
		if !slices.ContainsFunc(rl, func(r configs.Rlimit) bool { return r.Type == t }) {
			rl = append(rl, configs.Rlimit{Type: t, Soft: lim.Cur, Hard: lim.Max})
		}
	}
	return rl
}
