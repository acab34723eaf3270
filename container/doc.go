// Package container owns the life of the node's containers: running one in
// the foreground (Node.Run), the records that let any later dockless find
// and clean up after it, name reservations, reaping what dockless
// processes that died left behind, exec, kill and stop, pause, wait.
//
// It is a top-level package because the lifecycle is its own step of the
// flow (front ends → Request → policy → spec → images → runtime) and the
// one place that ties the others together: every front end (docker's
// flags, the LSF job, later the per-host and build containers) hands it a
// spec.Request, and it applies the policy, resolves the image (images),
// mounts the rootfs and the user's checked binds, builds the spec (spec),
// applies the request's CDI devices to it (cdi: GPUs) and runs it
// (runtime). cmd/dockless only parses flags and prints.
//
// Node.Run is a list of steps (image, record, name, cidfile, rootfs, size
// cap, user, /etc files, the image's volumes, binds, spec), each returning
// its own cleanup: whatever fails, exactly what was done is undone, in
// reverse, and the record goes last, so that a dockless killed at any
// point is reaped by the next one. The image is held from the moment it is
// found or pulled until the rootfs snapshot keeps it, and the size cap
// applies only after that, so that it never evicts the image about to
// start.
//
// A shared container (shared.go, Node.RunMember) is the per-host container
// of an LSF parallel job: made by its first member with a holder as its
// process, joined by the others, removed by the last; its lifetime is kept
// in flocks, so that members killed at any point leave nothing that the
// next member or Reap does not remove.
//
// An image's VOLUMEs are scratch directories in the container's state
// directory, seeded from the image and removed with it (volumes.go).
//
// Binds of host directories are placed by dockless itself where they land
// inside another host bind (mounttree.go), so that root, which runs
// libcontainer, creates nothing in a host directory.
//
// Errors are typed where a front end answers them in its own words
// (ErrNoSuchContainer, *NameInUseError, *CIDFileExistsError,
// *InvalidNameError); policy refusals come as *policy.Refusal.
//
// It must not parse flags or read the LSF environment, and imports nothing
// of cmd/ or lsf/.
package container
