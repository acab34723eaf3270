// Command dockless is a daemonless, docker-compatible container runtime for
// IBM Spectrum LSF clusters.
//
// This package is the command line: one file per command, each a
// urfave/cli command whose action parses flags into the neutral
// spec.Request and calls into images, spec and runtime. The exit code is
// decided in one place (main.go), with docker's meanings: 125 for dockless's
// own errors, 126 when the command cannot be invoked, 127 when it is not
// found, otherwise the container's status (128+N for signal N).
//
// The binary is also the container's init: libcontainer re-executes it with
// the argument "init", which main handles before the CLI parses anything.
// Installed setuid root and run by a user, the binary refuses "init" and
// replaces its own environment before main (runtime/secure.go); the
// caller's environment is data (policy.Caller.Env).
package main
