// Package nvidia writes the CDI spec of the node's NVIDIA GPUs (Generate),
// made in process by NVIDIA's nvcdi, which loads the host's libnvidia-ml at
// run time (the build needs no GPU): what `dockless cdi generate` writes
// for the specs package cdi reads.
//
// It is linked into dockless-cdi only, never into the setuid dockless:
// NVIDIA's generator and its dependencies would add to every start of
// dockless (a larger binary, and package initialisation in the command
// and again in each container's init) for a command an admin runs once
// per driver update. `dockless cdi generate` checks the caller (root
// only) and its flags, then runs dockless-cdi (policy.Libexec).
package nvidia
