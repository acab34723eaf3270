// The interposed mmap; what and why is in doc.go.

#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// heapChunk is the Go runtime's unit of heap growth (pallocChunkBytes):
// the first fixed, private, anonymous, read-write mapping of at least that
// size is the heap's first chunk.
#define heapChunk (4L << 20)

void dockless_hugeheap_linked(void) {}

static atomic_int advised;

// mmap replaces the C library's for the calls of this program (the C
// library's own calls use its internal alias): the same system call,
// then the advice on the heap's first chunk, once.
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (r == -1)
		return MAP_FAILED;
	if (len >= heapChunk && prot == (PROT_READ | PROT_WRITE) &&
	    (flags & (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE)) == (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE) &&
	    atomic_exchange(&advised, 1) == 0)
		madvise((void *)r, heapChunk, MADV_HUGEPAGE); // advice only: its failure changes nothing
	return (void *)r;
}
