// Package oci is dockless-runc: runc's command line (create, start, run,
// exec, state, kill, delete, list, ps, pause, resume, events, update,
// spec, features) over dockless's runtime, for containerd's runc shim, the
// CRI, `ctr --runc-binary` and the OCI validation tools, with runc
// v1.5.3's flags, messages and exit codes (runc's own integration suite is
// the measure: hack/runcbats); checkpoint and restore are refused (no
// CRIU). The binary speaks it when called as dockless-runc (a link to
// dockless) and as `dockless oci`; only root may use it (it takes any
// config.json).
//
// It is a top-level package because the OCI bundle is a front end of its
// own (front ends → Request → … → runtime; a bundle is already a spec, so
// it goes to runtime directly), with runc's flags, errors and exit codes
// rather than docker's: kept out of cmd/dockless, docker's command line
// stays thin and the two command lines do not share flag handling by
// accident.
//
// It must not apply the site policy or touch the image store: its callers
// are root and bring their own rootfs.
package oci
