// dockless-runinit is the small libcontainer init of job containers: what
// dockless's own "dockless init" runs (runtime.Init), without the rest of
// dockless's packages, whose initialisation costs every start several
// milliseconds. It links package jobinit and libcontainer only, and no cgo
// (make build builds it with CGO_ENABLED=0), so it cannot load a seccomp
// filter itself: dockless gives it only containers whose filter
// dockless-init's loader loads. dockless executes it from a sealed
// descriptor inside the container's namespaces, once libcontainer's nsexec
// is done (package runtime/initexec); it is found at
// ../libexec/dockless/dockless-runinit from dockless, never through PATH,
// and is of no use run by hand (it takes its whole configuration from
// descriptors libcontainer passes).
package main

import "github.com/dockless/dockless/runtime/jobinit"

func main() { jobinit.Init() }
