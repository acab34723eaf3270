// Package policy owns the site policy and the trust model of dockless.
//
// It is a top-level package because policy is its own step of the flow
// (front ends → Request → policy → spec → images → runtime, see
// docs/ARCHITECTURE.md): the lifecycle hands every request to Apply and
// Check before anything is pulled or mounted, and the same rules hold
// whichever front end built it.
//
// It owns:
//   - the site policy file (/etc/dockless/dockless.toml): loading it, refusing
//     it unless it is root-owned and not writable by group or others, and the
//     defaults that reproduce the site's docker wrapper (the seed) exactly;
//   - the Caller: who is really asking (real uid, gid and groups, never the
//     environment), whether they are root or a trusted caller, and their
//     environment as data (read from /proc/self/environ, never acted on);
//   - checking every path a user names (volumes, env files, cwd, home, job
//     tmpdir) with the user's own credentials, after resolving symlinks
//     but never /proc's magic links, refusing the kernel's filesystems
//     (/proc, /sys...), and handing back an open descriptor so that what
//     was checked is what gets mounted; and opening or making, as the
//     user, the mount points beneath such a descriptor (MountPoint), so
//     that root creates nothing in a host directory;
//   - Apply, which sets what the policy decides of a container, and Check,
//     the read-only refusals (root in the container, capabilities,
//     devices, registries), each naming the rule and the fix; VolumeRules,
//     the one trust rule for user-named mount sources;
//   - Libexec: dockless's own helper programs, used only when root's and
//     writable by no one else.
//
// It must not build specs, pull images or start containers.
package policy
