package main

// gcPercent is the Go collector's setting (GOGC) for dockless: a
// container's start allocates about 3 MiB, which Go's default (100, a
// first goal of 4 MiB) collects once, for nothing in a process that then
// ends or waits for its job (issue 16: ~2 ms of CPU a start). 400 puts the
// first goal at 16 MiB: no start collects, and the dockless that stays
// with a job, which allocates little while it waits, keeps a heap of a
// few MiB.
const gcPercent = 400
