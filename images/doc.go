// Package images owns the node's image store: containerd's content store,
// overlay snapshotter and metadata database, used in process under one root
// directory (default /var/lib/dockless).
//
// It resolves and pulls images through the registry protocol, unpacks their
// layers into overlay snapshots, lists and removes images, garbage-collects
// what nothing references, and prepares one copy-on-write snapshot per
// container (Prepare / Release). What it hands the runtime is a set of mounts
// for the rootfs and the image config, nothing else.
//
// Several dockless processes share one store. Every operation is a session:
// take the node-wide lock file (with a timeout), open the bolt databases, do
// the work, close them, unlock. Nothing holds the store open while a
// container runs. A pull downloads without the lock — the embedded store
// into a staging area (one download per blob across processes,
// staging.go), a containerd daemon under the session's lease — so that
// only recording and unpacking the image wait for it. Nothing that holds
// a lock of the store waits on the caller: progress goes through a Relay
// (the caller's terminal or pipe can block a write for as long as they
// like). A holder writes its pid into the lock file, so that a waiter can
// name it, and give up soon when it is stopped. It must not start
// containers or read site policy.
package images
