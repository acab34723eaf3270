// Package cdi gives containers the devices of the node's CDI specs
// (Container Device Interface, tags.cncf.io/container-device-interface):
// the GPUs with their driver libraries, nvidia-smi, environment and hooks,
// as the site generated them (nvidia-ctk cdi generate, or dockless cdi
// generate: package cdi/nvidia, in the helper dockless-cdi).
//
// It owns:
//   - Load: the specs of the policy's [gpu] cdi_spec_dirs, trusted only
//     when each directory and spec file is root-owned and not writable by
//     group or others (the rule of the policy file);
//   - Specs.Inject: applying the devices a request names to a built
//     runtime spec, with CDI's own edits, after checking what would run or
//     widen the caller's rights: every hook must be in [gpu] allowed_hooks
//     and root's alone, device nodes keep the host node's owner (CDI would
//     give them to the process's user), groups a spec adds must be the
//     caller's, and the device cgroup gains only the nodes injected;
//   - Specs.Devices: the devices of one kind and their nodes, from which
//     lsf reads the node's GPUs.
//
// It is a top-level package because device injection is its own step
// between spec and runtime that two front ends' requests go through (the
// LSF allocation and docker's --device/--gpus) and that pulls in the CDI
// library, which no other package should import: container
// calls it once the spec is built.
//
// It must not decide which devices a caller may have: the front ends do
// (lsf.Allocation for LSF jobs and callers who are not trusted); it never
// reads a path a user named.
package cdi
