// The interposed mmap; what and why is in doc.go.

#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// heapChunk is the Go runtime's unit of heap growth (pallocChunkBytes):
// the fixed, private, anonymous, read-write mappings of at least that size
// are the heap's chunks, mapped one after another as the heap grows.
#define heapChunk (4L << 20)

// heapAdvised is how much of the heap, from its first chunk on, is advised:
// a start of dockless grows its heap to 5 or 6 MiB before its container
// runs (the collector is held meanwhile, cmd/dockless/collect.go), past
// the first chunk.
#define heapAdvised (2 * heapChunk)

void dockless_hugeheap_linked(void) {}

static atomic_long advised;

// mmap replaces the C library's for the calls of this program (the C
// library's own calls use its internal alias): the same system call,
// then the advice on the heap's chunks, until heapAdvised bytes have it.
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (r == -1)
		return MAP_FAILED;
	if (len >= heapChunk && prot == (PROT_READ | PROT_WRITE) &&
	    (flags & (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE)) == (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE)) {
		long done = atomic_load(&advised);
		while (done < heapAdvised) {
			long n = heapAdvised - done < (long)len ? heapAdvised - done : (long)len;
			if (atomic_compare_exchange_weak(&advised, &done, done + n)) {
				madvise((void *)r, n, MADV_HUGEPAGE); // advice only: its failure changes nothing
				break;
			}
		}
	}
	return (void *)r;
}
