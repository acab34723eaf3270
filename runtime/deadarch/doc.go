// Package deadarch answers which architectures of a seccomp profile this
// kernel runs no system call of: x32 (KernelTakesX32) and 32-bit x86
// (KernelRunsIA32) on x86_64. Docker's default profile lists both beside
// x86_64, and libseccomp compiles a section of the filter for each in
// every container's init; where the kernel runs none of an architecture's
// calls, its section is dead, and leaving it out makes the same filter for
// every call the kernel runs (docs/SECURITY.md) at a fraction of the
// compile time (docs/BENCHMARKS.md).
//
// Why a package of its own: the job path (container, through spec.Host)
// and the runtime of a build's RUN steps (cmd/dockless-build-runc, which
// runs once per step and must start fast) both ask, and the latter links
// nothing of libcontainer. It needs only golang.org/x/sys/unix.
package deadarch
