// Package jobinit is libcontainer's init as dockless runs it: the init of
// every container, in dockless's own "dockless init" (runtime.Init) and in
// the small init, cmd/dockless-runinit, which links nothing else.
//
// Why a package of its own: the small init must link neither dockless's
// runtime package nor cgo. Package runtime brings the setuid entry guard
// (C, with libc and libseccomp), the store and the rest; each package and
// each shared library costs every container's start its initialisation
// and its page faults (on a 2-core VM, the small init built from package
// runtime started in 13.0 ms, the same init with only this package and
// libcontainer, static, in 7.5 ms: BENCHMARKS.md). So the small init is
// built with CGO_ENABLED=0 and cannot load a seccomp filter: dockless
// hands it only containers whose filter dockless-init's loader loads
// (runtime/smallinit.go).
package jobinit
