package runtime

// #include <sys/auxv.h>
import "C"

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
//     (where registry traffic goes), GODEBUG, GOMAXPROCS, TZ…
//
// The caller's environment stays readable as data: the kernel keeps the
// strings as exec'd, and policy.CurrentCaller reads them from
// /proc/self/environ. Proxies and CAs for registries come from the policy
// ([registry] https_proxy, http_proxy, no_proxy; CAs in mirrors_dir).

// SecureExec reports whether this process was exec'd AT_SECURE (setuid
// root, run by another user).
func SecureExec() bool { return C.getauxval(C.AT_SECURE) != 0 }
