// Command dockless is a daemonless, docker-compatible container runtime for
// IBM Spectrum LSF clusters.
//
// This package is the command line and nothing more: one file per command,
// each a urfave/cli command (a method of app, whose fields are its only
// dependencies) whose action parses flags into the neutral spec.Request
// (each value with its one parser in spec) and calls the lifecycle
// (container), the LSF translation (lsf) or the image store (images); the
// OCI command line (package oci, as `dockless oci` and dockless-runc)
// drives runtime directly. Errors become docker's messages and the exit
// code in one place (main.go), with docker's meanings: 125 for dockless's
// own errors, 1 for what docker's client itself reports (a missing
// argument, -it without a terminal), 126 when the command cannot be
// invoked, 127 when it is not found, otherwise the container's status
// (128+N for signal N); the OCI command line's are runc's (oci.Run): 1,
// 255 for exec. The flags of run and exec are read as docker's parser
// reads them: a value attached to its short flag is split off before
// urfave/cli parses (shortflags.go).
//
// The binary is also the container's init: libcontainer re-executes it with
// the argument "init", which main handles before the CLI parses anything.
// Installed setuid root and run by a user, the binary refuses "init" and
// replaces its own environment before main (runtime/secure.go); the
// caller's environment is data (policy.Caller.Env). The init of --init
// containers is not this binary but dockless-init (cmd/dockless-init),
// built and installed beside it.
package main
