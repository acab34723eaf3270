// Package build is what the setuid dockless and dockless-build share about
// one `dockless build`: the Request that travels between them, the docker
// values of its flags (--secret, --ssh, --cache-from/--cache-to, a URL
// CONTEXT), the policy's [build] checks, the caller's subordinate ids and the user
// namespace the build runs in (the caller as its root), made by the setuid
// dockless before it starts dockless-build.
//
// It is a top-level package, not part of images or container, because a
// build is neither the node's image store nor one of its containers: it
// runs BuildKit (build/kit, linked only into the non-setuid dockless-build)
// as the caller, and hands the store only its result. It must not import
// BuildKit: the setuid dockless imports it.
package build
