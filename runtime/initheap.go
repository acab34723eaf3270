package runtime

// A container's rlimits are set on its init by the parent as soon as the
// init reports ready (libcontainer must do it before the init leaves the
// host's user namespace), but the init then still builds and loads the
// seccomp filter with libseccomp, which allocates with malloc. A Go init
// has over 1 GiB of address space reserved before it does anything, so
// under a process.rlimits RLIMIT_AS of 1 GiB (runtime-tools'
// process_rlimits) every new mapping fails: glibc cannot make a new arena,
// cannot grow the brk heap and cannot mmap, and the container fails with
// "error adding seccomp filter rule ...: cannot allocate memory".
//
// dockless_init_heap runs before the Go runtime starts, in a container
// init only (libcontainer passes _LIBCONTAINER_INITPIPE to nothing else),
// and gives the init a heap that needs no new mapping later: one malloc
// arena for every thread (each extra arena reserves 64 MiB, one per
// thread) and 16 MiB of brk heap grown now and kept (not trimmed), which
// is address space only until libseccomp touches it; the init execs the
// container's process right after, and the exec drops it all.

/*
#include <malloc.h>
#include <stdlib.h>

static void __attribute__((constructor)) dockless_init_heap(void)
{
	void *p;

	if (getenv("_LIBCONTAINER_INITPIPE") == NULL)
		return;
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	p = malloc(16 << 20);
	if (p != NULL)
		*(volatile char *)p = 0; // a write the compiler cannot drop with the pair
	free(p);
}
*/
import "C"
