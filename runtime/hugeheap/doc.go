// Package hugeheap asks the kernel for transparent huge pages for the first
// two 4 MiB chunks of the Go heap of the program that links it (dockless, and
// dockless-build: BuildKit's packages fault about as much at its start,
// 53 against 30 ms to start with it, hyperfine, 40 runs).
//
// Why a package of its own: it interposes the C library's mmap, through
// which the Go runtime of a cgo program maps its heap (runtime/cgo's
// x_cgo_mmap), so only the programs that import it get it, and its whole
// effect is one madvise.
//
// Why: every start of dockless initialises some 250 packages (containerd's
// store, libcontainer, gRPC and protobuf registries, reference-parsing
// regular expressions), which allocate about 1 MiB before main runs. Each
// first touch of a 4 KiB page of that heap is a page fault; dockless took
// about 790 faults to print its version, against runc's 380, and under a
// virtual machine a fault costs several microseconds (a VM exit on this
// project's PVM guests). With the first heap chunk in two huge pages it
// takes about 300, and `dockless --version` 20 ms instead of 25, `dockless
// run --rm IMG true` 14 % less (BENCHMARKS.md). A start holds the garbage
// collector (cmd/dockless/collect.go) and its heap grows to 5 or 6 MiB,
// past the first chunk: the second chunk's advice took a start's faults
// from about 2,000 to 1,400, and 5 to 13 ms off it. Where the node's
// transparent huge pages are "never", nothing changes; where "always", the
// heap had them already.
//
// Only the first two chunks are advised, so a long-running dockless (a
// pull, a job's resident process) uses at most 8 MiB more than with small
// pages for them (a job's resident dockless: 0.3 MiB more than with the
// first chunk's advice alone). A huge page fault may compact memory where
// /sys/kernel/mm/transparent_hugepage/defrag is "madvise" (the kernel's
// default) on a fragmented node, as for any program that asks for them;
// the kernel falls back to small pages when it finds none.
package hugeheap
