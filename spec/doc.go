// Package spec builds the OCI runtime configuration (config.json) of a
// dockless container.
//
// It owns the translation from a neutral Request (what a front end was asked
// for: docker flags, the LSF job environment, an OCI bundle) plus the image
// configuration into a runtime-spec specs.Spec. The work is split into small
// composable options of one shape, Opt, each setting one concern (user,
// mounts, capabilities, devices, cgroup limits, rlimits, seccomp, env), in the
// style of containerd's oci.SpecOpts. Build composes them for a Request.
//
// The package is deterministic: options do no I/O. The few helpers that must
// look at the world (resolving a user against the image's /etc/passwd,
// stat-ing a device node, listing GPUs) live in their own files, take the
// paths they read as arguments, and are called by the front end before the
// options run, so tests can point them at fixtures.
//
// It must not pull images, mount anything or start processes.
package spec
