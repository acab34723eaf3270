// Package images owns the node's image store: containerd's content store,
// overlay snapshotter and metadata database, used in process under one root
// directory (default /var/lib/dockless).
//
// It resolves and pulls images through the registry protocol, unpacks their
// layers into overlay snapshots, lists and removes images, garbage-collects
// what nothing references, and gives each container a copy-on-write layer
// (Prepare / Release; layer.go: a directory of its own over the image's
// snapshots, in no database; a snapshot on a containerd daemon). What it
// hands the runtime is a set of mounts for the rootfs and the image
// config, nothing else.
//
// Several dockless processes share one store. Every operation is a session:
// take the node-wide lock file (with a timeout; shared to read and to start
// a cached image, exclusive to change the store), open the bolt databases,
// do the work, close them, unlock. Nothing holds the store open while a
// container runs. A pull downloads without the lock — the embedded store
// into a staging area (staging.go), a containerd daemon under the
// session's lease — so that only unpacking and recording the image wait
// for it.
//
// The store is shared by every user of the node and acts for one caller
// (Store.As): it decides who may use, see and remove a cached image
// (access.go: also when its registry cannot be asked, where a public image
// is used and a private one fails closed; revalidate.go: how long an
// answer of the registry spares the next starts the question whether a
// tag moved), and one pull can neither
// poison, block nor fill it for the
// others — per-pull downloads checked on commit and aborted on failure,
// staged blobs kept only while a live pull claims them (claims.go),
// bounded waits for another pull's download, byte bounds while writing
// (fetch.go, apply.go), a name recorded only after a complete unpack, and
// manifests and configs checked against their digest at each read
// (verify.go). It must not start containers or read site policy: the
// front end hands it the caller and the policy's bounds.
//
// With a shared cache (Store.SharedCache, the cluster's per-layer EROFS
// cache on the parallel file system: sharedcache.go), a pull takes the
// layers published there from the same repository without downloading or
// unpacking them — their snapshots stay empty and MountAll mounts the
// checked files in their place (erofsmount.go) — and publishes those it
// pulls (erofsconv.go). The store never deletes a shared file.

// Push uploads an image the caller may use with their credentials, held
// but without the node lock (push.go); Tag records another name for the
// caller alone, marked as made on the node, so that no other user takes
// it for the registry's image of that name (tag.go).
//
// The size cap (EnforceCap) evicts the least recently used images that no
// container's snapshot uses and no live dockless holds: a run holds its
// image from the session that finds or records it until Prepare makes its
// snapshot (hold.go).
//
// Nothing that holds a lock of the store waits on the caller: progress
// goes through a Relay (the caller's terminal or pipe can block a write
// for as long as they like). A holder writes its pid into the lock file,
// so that a waiter can name it, and give up soon when it is stopped.
package images
