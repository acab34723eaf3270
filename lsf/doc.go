// Package lsf translates an LSF job into the request of its container: the
// site's `docker run` line (the seed), rebuilt from the job environment,
// the 14 LSF_DOCKER_* wrapper variables, the job file, the site policy, the
// caller and a few facts of the host.
//
// It is a top-level package because the LSF job is its own front end of
// the flow (front ends → Request → policy → spec → images → runtime),
// beside docker's flags (cmd/dockless) and the OCI bundle (runtime): each
// front end only produces a spec.Request, and the lifecycle (container)
// runs it whichever built it.
//
// FromEnv is a pure translation: it reads nothing, and every path it names
// is only recorded, as a Source. The job's GPUs are the ones LSF allocated
// it (ReadAllocation: CUDA_VISIBLE_DEVICES and kin, read against the
// node's GPU table, a host fact from its CDI spec): the request carries
// their CDI device names, never a device path, and the container's GPU
// variables are renumbered as the container sees its GPUs. The two steps that touch the node do so
// with the job user's rights, through policy: Job.ReadFiles reads the env
// and add-host files the variables name, Job.Open checks and opens the
// user's paths (home, working directory, job tmpdir, spool directory,
// volumes) under the one trust rule for user-named mount sources
// (policy.VolumeRules) and puts the opened handles in the request.
//
// A parallel job's tasks share one container per host (parallel.go):
// TaskFromEnv is the job's container running one task's command (dockless
// lsf task), Parallel tells a job with more than one slot, and JobKey names
// the job on the node; the variables only name it, who joins is decided by
// the caller's uid and cgroup (container.Node.RunMember).
//
// It imports only spec and policy of dockless's packages; it must not pull
// images, mount anything or start containers.
package lsf
