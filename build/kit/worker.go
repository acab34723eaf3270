package kit

import (
	"context"
	"os"
	"path/filepath"
	"strconv"

	"github.com/containerd/containerd/v2/core/diff/apply"
	ctdmetadata "github.com/containerd/containerd/v2/core/metadata"
	ctdsnapshot "github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/core/snapshots/storage"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/containerd/v2/plugins/diff/walking"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay"
	"github.com/containerd/platforms"
	"github.com/moby/buildkit/cache/metadata"
	"github.com/moby/buildkit/executor/oci"
	"github.com/moby/buildkit/executor/resources"
	"github.com/moby/buildkit/executor/runcexecutor"
	containerdsnapshot "github.com/moby/buildkit/snapshot/containerd"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/db/boltutil"
	"github.com/moby/buildkit/util/leaseutil"
	"github.com/moby/buildkit/util/network"
	"github.com/moby/buildkit/worker/base"
	wlabel "github.com/moby/buildkit/worker/label"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

// snapshotterName names the worker's snapshotter, and with it the
// worker's directory under the build state (runc-overlayfs, as BuildKit's
// own OCI worker names it: build states made before keep their caches).
const snapshotterName = "overlayfs"

// workerOpt is the build's rootless OCI worker: overlay snapshots, RUN
// steps through runtime (a runc-compatible program) in a process sandbox,
// the host's network or none. It is BuildKit's runc worker without what a
// build of dockless never uses and pays for at every start: BuildKit's
// worker makes a network proxy for every worker, whose CA is a fresh
// RSA-2048 key (50 ms median, up to 180 ms, on the benchmark's machine:
// issue 15), for RUN steps of a proxy network mode that dockless's front
// end never asks for (such a step fails: "proxy network provider is not
// available").
func workerOpt(root, runtime string) (base.WorkerOpt, error) {
	var opt base.WorkerOpt
	root = filepath.Join(root, "runc-"+snapshotterName)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return opt, err
	}
	host := network.NewHostProvider()
	networks := map[pb.NetMode]network.Provider{
		pb.NetMode_UNSET: host,
		pb.NetMode_HOST:  host,
		pb.NetMode_NONE:  network.NewNoneProvider(),
	}
	monitor, err := resources.NewMonitor()
	if err != nil {
		return opt, err
	}
	var candidates []string // nil: BuildKit's default, runc on PATH
	if runtime != "" {
		candidates = []string{runtime}
	}
	exe, err := runcexecutor.New(runcexecutor.Opt{
		Root:              filepath.Join(root, "executor"),
		CommandCandidates: candidates,
		Rootless:          true,
		ProcessMode:       oci.ProcessSandbox,
		ResourceMonitor:   monitor,
	}, networks)
	if err != nil {
		return opt, err
	}
	ms, err := storage.NewMetaStore(filepath.Join(root, "snapshots", "metadata.db"), func(o *bolt.Options) error {
		o.NoSync = true // unsynced.go
		return nil
	})
	if err != nil {
		return opt, err
	}
	sn, err := overlay.NewSnapshotter(filepath.Join(root, "snapshots"), overlay.AsynchronousRemove, overlay.WithMetaStore(ms))
	if err != nil {
		return opt, err
	}
	blobs, err := local.NewStore(filepath.Join(root, "content"))
	if err != nil {
		return opt, err
	}
	db, err := boltutil.Open(filepath.Join(root, "containerdmeta.db"), 0o644, &bolt.Options{
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
		NoSync:         true, // unsynced.go
	})
	if err != nil {
		return opt, err
	}
	mdb := ctdmetadata.NewDB(db, blobs, map[string]ctdsnapshot.Snapshotter{snapshotterName: sn})
	if err := mdb.Init(context.TODO()); err != nil {
		return opt, err
	}
	cs := containerdsnapshot.NewContentStore(mdb.ContentStore(), "buildkit")
	id, err := base.ID(root)
	if err != nil {
		return opt, err
	}
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	md, err := metadata.NewStore(filepath.Join(root, "metadata_v2.db"))
	if err != nil {
		return opt, err
	}
	// BuildKit opens its cache metadata syncing every commit, with no
	// option: its handle, reached through a transaction, goes without
	// syncs as the others (unsynced.go; 195 fdatasyncs a build, ~40 ms).
	if err := md.DB().View(func(tx *bolt.Tx) error {
		tx.DB().NoSync = true
		return nil
	}); err != nil {
		return opt, err
	}
	return base.WorkerOpt{
		ID:   id,
		Root: root,
		Labels: map[string]string{
			wlabel.Executor:       "oci",
			wlabel.Snapshotter:    snapshotterName,
			wlabel.Hostname:       hostname,
			wlabel.Network:        "host",
			wlabel.OCIProcessMode: oci.ProcessSandbox.String(),
			wlabel.SELinuxEnabled: strconv.FormatBool(false),
		},
		MetadataStore:    md,
		ContentMetadata:  db,
		NetworkProviders: networks,
		Executor:         exe,
		Snapshotter:      containerdsnapshot.NewSnapshotter(snapshotterName, mdb.Snapshotter(snapshotterName), "buildkit", nil),
		ContentStore:     cs,
		Applier:          apply.NewFileSystemApplier(cs),
		Differ:           walking.NewWalkingDiff(cs),
		Platforms:        []ocispecs.Platform{platforms.Normalize(platforms.DefaultSpec())},
		LeaseManager:     leaseutil.WithNamespace(ctdmetadata.NewLeaseManager(mdb), "buildkit"),
		GarbageCollect:   mdb.GarbageCollect,
		MountPoolRoot:    filepath.Join(root, "cachemounts"),
		ResourceMonitor:  monitor,
	}, nil
}
