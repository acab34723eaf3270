package hugeheap

// void dockless_hugeheap_linked(void);
import "C"

// The interposed mmap is in heap.c; this keeps its object in the link.
var _ = C.dockless_hugeheap_linked
