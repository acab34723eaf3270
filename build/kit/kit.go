// Package kit runs BuildKit in process for one build: the controller, a
// rootless OCI worker (overlay snapshots, RUN through a runc-compatible
// program), the Dockerfile frontend and the local, registry and inline
// build caches, served over an in-memory gRPC
// connection to a client in the same process. It runs in dockless-build,
// never in the setuid dockless, inside the user namespace the setuid
// dockless made, as the caller.
package kit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/moby/buildkit/cache/remotecache"
	inlinecache "github.com/moby/buildkit/cache/remotecache/inline"
	localcache "github.com/moby/buildkit/cache/remotecache/local"
	registrycache "github.com/moby/buildkit/cache/remotecache/registry"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/control"
	"github.com/moby/buildkit/frontend"
	dockerfile "github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/gateway/forwarder"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/solver"
	"github.com/moby/buildkit/solver/bboltcachestorage"
	"github.com/moby/buildkit/util/archutil"
	"github.com/moby/buildkit/util/db/boltutil"
	"github.com/moby/buildkit/util/resolver"
	"github.com/moby/buildkit/worker"
	"github.com/moby/buildkit/worker/base"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// Kit is BuildKit started for one build: Solve builds with it, Close
// stops it.
type Kit struct {
	client *client.Client
	layers *eagerLayers
	close  func() error
}

// Start starts the controller on the state directory root with runtime
// for RUN steps, with a client connected to it.
func Start(ctx context.Context, root, runtime string) (_ *Kit, err error) {
	probed := probePlatforms()
	defer func() {
		if err != nil {
			probed()
		}
	}()
	synced, err := markUnsynced(root)
	if err != nil {
		return nil, err
	}
	layers := newEagerLayers()
	ctrl, err := controller(ctx, root, runtime, layers)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	ctrl.Register(srv)
	ln := bufconn.Listen(1 << 20)
	go srv.Serve(ln) //nolint:errcheck // ends with Stop
	c, err := client.New(ctx, "", client.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return ln.DialContext(ctx)
	}), client.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		srv.Stop()
		ctrl.Close()
		return nil, errors.Join(err, synced())
	}
	return &Kit{client: c, layers: layers, close: func() error {
		c.Close()
		stopServer(srv)
		layers.stop()
		ctrl.Close()
		probed()
		return synced()
	}}, nil
}

// stopServer lets the controller's calls end before its databases close:
// an interrupted build's call records the build's history on its way out
// (else BuildKit logs "failed to import error to build record: database
// not open"). A call that does not end in a few seconds is cut off.
func stopServer(srv *grpc.Server) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		srv.Stop()
	}
}

// Close stops BuildKit and syncs the state (unsynced.go).
func (k *Kit) Close() error { return k.close() }

// probePlatforms starts BuildKit's probe of the platforms this node runs
// programs of (archutil.SupportedPlatforms: a dozen small programs of
// other architectures, run in turn, each from a temporary directory),
// which BuildKit otherwise makes in the first RUN step, on the build's
// critical path (25 ms on the benchmark's machine: docs/BENCHMARKS.md).
// The result is the same, kept by BuildKit for the process. The returned
// function waits for the probe, so that it leaves no temporary directory
// behind.
func probePlatforms() (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		archutil.SupportedPlatforms(false)
	}()
	return func() { <-done }
}

// controller is BuildKit's controller with one rootless OCI worker, its
// image layers compressed early (eager.go).
func controller(ctx context.Context, root, runtime string, layers *eagerLayers) (*control.Controller, error) {
	sm, err := session.NewManager()
	if err != nil {
		return nil, err
	}
	hosts := resolver.NewRegistryConfig(nil)
	opt, err := workerOpt(root, runtime)
	if err != nil {
		return nil, fmt.Errorf("the build's worker: %w", err)
	}
	opt.RegistryHosts = hosts
	w, err := base.NewWorker(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("the build's worker: %w", err)
	}
	wc := &worker.Controller{}
	if err := wc.Add(layers.worker(w)); err != nil {
		return nil, err
	}
	cache, err := bboltcachestorage.NewStore(filepath.Join(root, "cache.db"))
	if err != nil {
		return nil, err
	}
	history, err := boltutil.SafeOpen(filepath.Join(root, "history.db"), 0o600, &bolt.Options{NoSync: true}) // unsynced.go
	if err != nil {
		return nil, err
	}
	return control.NewController(control.Opt{
		SessionManager:   sm,
		WorkerController: wc,
		Frontends:        map[string]frontend.Frontend{"dockerfile.v0": forwarder.NewGatewayForwarder(wc.Infos(), layers.frontend(dockerfile.Build))},
		ResolveCacheExporterFuncs: map[string]remotecache.ResolveCacheExporterFunc{
			"local":    localcache.ResolveCacheExporterFunc(sm),
			"registry": registrycache.ResolveCacheExporterFunc(sm, hosts),
			"inline":   inlinecache.ResolveCacheExporterFunc(),
		},
		ResolveCacheImporterFuncs: map[string]remotecache.ResolveCacheImporterFunc{
			"local":    localcache.ResolveCacheImporterFunc(sm),
			"registry": registrycache.ResolveCacheImporterFunc(sm, w.ContentStore(), hosts),
		},
		CacheManager:   solver.NewCacheManager(ctx, "local", cache, worker.NewCacheResultStorage(wc)),
		HistoryDB:      history,
		CacheStore:     cache,
		LeaseManager:   w.LeaseManager(),
		ContentStore:   w.ContentStore(),
		GarbageCollect: w.GarbageCollect,
	})
}
