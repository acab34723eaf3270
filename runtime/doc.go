// Package runtime runs an OCI runtime spec as a container through runc's
// libcontainer, in process: no runc binary, no daemon.
//
// It owns the container's life from create to destroy: the libcontainer
// state under a root directory, the init process (the dockless binary
// re-executed with the argument "init", see Init; for a job container,
// once nsexec is done, the small dockless-runinit: smallinit.go and package
// runtime/initexec), stdio or a pseudo-terminal,
// signal forwarding, waiting, the exit status (128+N for a signal), and
// destroying the container and its cgroup on every path out. It reads the
// container's cgroup statistics too, in the shapes dockless prints (Measure
// for stats and inspect, EventStats for runc's events).
//
// A job container's seccomp filter is compiled once per profile and
// loaded by dockless-init's loader just before the container's command
// (seccomp.go, JobHelpers).
//
// It also holds the setuid entry guard (secure.go), the binary's first C
// constructor: run setuid by a user, dockless refuses to be libcontainer's
// init and replaces its environment before nsexec and the Go runtime run.
//
// The container's process never gets the caller's open files: its stdio
// are pipes this package makes and relays (or the pty its init makes),
// since libcontainer's init fchowns its stdio to the container's user; only
// the OCI interface, whose caller is root, passes its own (IO.Direct).
// A pty keeps its output processing (LF written as CR LF, as docker's)
// unless the front end asks runc's behaviour (IO.ClearONLCR: the OCI
// interface does).
//
// It takes a spec and nothing else: it must not pull images, mount root
// filesystems or read policy. The container is a child of the calling
// process (dockless makes itself a child subreaper), so it lives and dies
// with the job that started it. The exceptions: a held container (Hold:
// an LSF parallel job's per-host container) outlives the dockless that
// made it until whoever leaves it last destroys it; and the OCI interface
// (oci*.go: OCIRun, OCIExec, Start…, runc's verbs for package oci,
// dockless-runc), as runc's containers do: created containers outlive the
// command that made them, and a container run in the foreground stays with
// --keep.
package runtime
