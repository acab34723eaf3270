// Package initexec is linked into dockless (and the test binaries that
// act as libcontainer's init), never into dockless-runinit: it brings
// libcontainer's nsexec (package nsenter) and a C constructor that runs
// before it.
//
// libcontainer starts a container's init by executing a sealed copy of the
// running binary with the argument "init": for dockless that is the whole
// 34 MB program, whose Go runtime and package initialisation (containerd's
// API types, gRPC, protobuf registries, reference-parsing regexps) cost
// several milliseconds more than runc's, for an init that needs only
// libcontainer. When dockless gives the init a sealed descriptor of the
// small init (runtime.JobHelpers.Init: its number after ":fd=" in the
// _LIBCONTAINER_LOGLEVEL variable, the one value libcontainer passes the
// init of its caller's), the constructor runs nsexec itself (it returns
// only in the final child, inside the container's namespaces) and executes
// that descriptor there, with the variable restored: the small init
// (cmd/dockless-runinit) runs runtime.Init as dockless's own would. Without
// the mark it does nothing, and nsexec runs from nsenter's constructor, as
// before.
//
// The small init is not set-id and is executed from a sealed, read-only
// overlay of it (a container cannot write to it through /proc/<pid>/exe,
// CVE-2019-5736); the descriptor is close-on-exec by then, so the small
// init never holds it. It runs inside the container's namespaces: for a
// job container, a new PID namespace where nothing else runs yet, and
// runtime.Init makes it non-dumpable at once (nsexec does so only where it
// joins namespaces), so that a process dockless exec starts in the
// container before the init executes the container's process cannot reach
// its descriptors to dockless through /proc.
// An AT_SECURE exec (the setuid binary run by a user) is never acted on.
package initexec
