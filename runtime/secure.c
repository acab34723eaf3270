// The setuid entry guard; why and when it runs is explained in secure.go.

#define _GNU_SOURCE
#include <string.h>
#include <linux/close_range.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __GLIBC__
#error "dockless_secure_entry needs glibc, which passes argc and argv to constructors"
#endif

extern char **environ;

// securePath is the whole environment of a setuid dockless: the programs
// libraries look up by name (containerd's unpigz and igzip) come from the
// system's directories only.
static char securePath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
static char emptyEntry[] = "";

static const char refusedInit[] =
	"dockless: refused: libcontainer's init (the argument \"init\", the _LIBCONTAINER_* variables) "
	"is started only by dockless itself, never through the setuid binary; "
	"start containers with dockless run or dockless lsf run\n";

// The resource limits the entry lifts (liftRlimits), as the caller had
// them: dockless_caller_rlimit hands them to the Go side, which gives them
// back to the container's process.
static const int liftedTypes[] = {RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_AS, RLIMIT_DATA, RLIMIT_NOFILE};
static struct rlimit callerRlimits[RLIM_NLIMITS];
static int lifted[RLIM_NLIMITS];

// nofileFloor is the least RLIMIT_NOFILE dockless keeps for itself.
#define nofileFloor 65536

int dockless_caller_rlimit(int r, unsigned long long *cur, unsigned long long *max)
{
	if (r < 0 || r >= RLIM_NLIMITS || !lifted[r])
		return 0;
	*cur = callerRlimits[r].rlim_cur;
	*max = callerRlimits[r].rlim_max;
	return 1;
}

// liftRlimits frees dockless from the limits a caller could choose to end
// it at a moment of their choosing (RLIMIT_CPU: SIGKILL; RLIMIT_AS,
// RLIMIT_DATA: the Go runtime out of memory; RLIMIT_FSIZE, RLIMIT_NOFILE:
// writes and opens failing half-way through the shared store). Unlimited
// where root may raise a hard limit, else up to the caller's hard limit.
static void liftRlimits(void)
{
	size_t i;

	for (i = 0; i < sizeof(liftedTypes) / sizeof(liftedTypes[0]); i++) {
		int r = liftedTypes[i];
		struct rlimit old, want;

		if (getrlimit(r, &old) != 0)
			continue;
		want.rlim_cur = want.rlim_max = RLIM_INFINITY;
		if (r == RLIMIT_NOFILE)
			want.rlim_cur = want.rlim_max = old.rlim_max != RLIM_INFINITY && old.rlim_max > nofileFloor ? old.rlim_max : nofileFloor;
		if (setrlimit(r, &want) != 0) {
			want.rlim_cur = want.rlim_max = old.rlim_max;
			if (setrlimit(r, &want) != 0)
				continue;
		}
		if (want.rlim_cur != old.rlim_cur || want.rlim_max != old.rlim_max) {
			callerRlimits[r] = old;
			lifted[r] = 1;
		}
	}
}

static const char refusedFds[] =
	"dockless: refused: cannot mark the caller's descriptors close-on-exec (close_range needs Linux 5.11)\n";

static const char refusedNoArgs[] =
	"dockless: refused: started with an empty argument list (no program name)\n";

static void refuse(const char *msg, size_t len)
{
	// fd 2 is the caller's; if it is closed there is nobody to tell.
	ssize_t n = write(2, msg, len);
	(void)n;
	_exit(125);
}

// dockless_secure_entry runs before every other constructor of the binary
// (priority 101, the first one not reserved to the C implementation; runc's
// nsexec constructor has the default priority, which runs after all
// prioritised ones) and before the Go runtime. glibc passes constructors
// argc and argv; the environment array follows argv on the initial stack,
// and that array is what the Go runtime copies its environment from.
__attribute__((constructor(101))) static void dockless_secure_entry(int argc, char **argv)
{
	char **envp;
	size_t n, i;

	if (!getauxval(AT_SECURE))
		return;
	// Linux 5.18 and later never start a program without argv[0]; older
	// kernels do, and argv[1] would then be the first variable.
	if (argc < 1 || argv[0] == NULL)
		refuse(refusedNoArgs, sizeof(refusedNoArgs) - 1);
	if (argc > 1 && strcmp(argv[1], "init") == 0)
		refuse(refusedInit, sizeof(refusedInit) - 1);
	envp = argv + argc + 1;
	for (n = 0; envp[n] != NULL; n++)
		if (strncmp(envp[n], "_LIBCONTAINER_", strlen("_LIBCONTAINER_")) == 0)
			refuse(refusedInit, sizeof(refusedInit) - 1);
	// Rewrite the array in place, keeping its length: the auxiliary
	// vector follows its NULL on the stack, and the Go runtime finds it
	// (the page size, AT_SECURE…) by walking past argv and envp. Unused
	// slots point to "", which the Go runtime and getenv skip as unset
	// entries. An empty environment stays empty: it has no slot for PATH.
	for (i = 0; i < n; i++)
		envp[i] = i == 0 ? securePath : emptyEntry;
	environ = envp;
	// The descriptors the caller left open (3 and up) are theirs: no
	// program dockless starts (unpigz, hooks, credential helpers, the
	// container's init) inherits them.
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
		refuse(refusedFds, sizeof(refusedFds) - 1);
	liftRlimits();
}
