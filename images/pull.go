package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/pkg/rootfs"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/docker/go-units"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// snapshotLabel ties an image config to its unpacked snapshot for GC.
const snapshotLabel = "containerd.io/gc.ref.snapshot." + snapshotter

// Platform is the platform images are pulled and unpacked for.
var Platform = platforms.Only(platforms.DefaultSpec())

// PullOptions tune one pull.
type PullOptions struct {
	// Progress receives docker-style progress lines; nil discards them.
	// The pull never waits for it while it holds a lock.
	Progress io.Writer
	// Timeout bounds the whole pull (0: no bound beyond ctx).
	Timeout time.Duration
	// Bars draws per-layer progress bars on Progress (a terminal) instead
	// of one plain line per layer (batch output, LSF output files).
	Bars bool
	// Hold holds the image for a container about to start on it (hold.go):
	// from the moment it is found or recorded, the size cap and image
	// prune leave it alone until Prepare or Unhold.
	Hold bool
	// Prepare, with Hold, is the ID of that container: when Ensure finds
	// the image in the store usable without asking its registry, the
	// container's rootfs snapshot is prepared in the same store session
	// (Image.Mounts) instead of a hold, which spares the start a session.
	Prepare string
}

// Pull resolves ref at its registry with the caller's credentials,
// fetches the manifest for this platform, its config and layers (only what
// the store lacks), unpacks the layers into snapshots and then records the
// image under its normalised name, for the caller (access.go), held if
// opts.Hold.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	name, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	var hold string
	if opts.Hold {
		if hold, err = newHold(); err != nil {
			return nil, err
		}
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	// Progress is written while the pull holds blob locks and the node
	// lock: through a relay, which the pull waits for only at the end.
	out := NewRelay(progress)
	defer out.Close()
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	ctx = withPullID(ctx)
	p, err := s.resolve(ctx, name, out, opts.Bars)
	if err != nil {
		return nil, err
	}
	p.hold = hold
	p.plan = s.layerPlan(name)
	defer p.plan.release()
	// Downloads do not hold the node lock, so that a long pull does not
	// hold up the jobs that use other images: the embedded store fetches
	// into its staging area and then moves the blobs in under the lock; a
	// containerd daemon fetches under the session's lease and takes the
	// lock only to record and unpack.
	var img *Image
	if s.Containerd != "" {
		img, err = p.viaDaemon(ctx)
	} else {
		img, err = p.viaStaging(ctx)
		err = s.diskFull(err)
	}
	if err == nil {
		s.noteRevalidated(name, p.desc.Digest, !p.sent.Load(), p.start)
	}
	return img, err
}

// diskFull names the store's file system and the rule that keeps it from
// filling up in a pull that failed because it is full (a download or an
// unpack that passed the free-space check, while other writes took the
// space: the check reserves nothing).
func (s *Store) diskFull(err error) error {
	if !errors.Is(err, unix.ENOSPC) || errors.Is(err, ErrNoSpace) {
		return err
	}
	return fmt.Errorf("%w: the image store's file system (%s) is full; [store] min_free_space (%s) is what a pull must leave free on it: %w",
		err, s.root, units.BytesSize(float64(s.Limits.MinFreeSpace)), ErrNoSpace)
}

// pull is one pull of an image by name, from its resolution on.
type pull struct {
	s    *Store
	name string
	// desc is what name points at, fetcher fetches its blobs.
	desc    ocispec.Descriptor
	fetcher remotes.Fetcher
	// trust is what the pull may take from the store without fetching it
	// (Store.pullTrust).
	trust func(*downloader) func(ocispec.Descriptor) bool
	// sent notes whether the caller's credentials were sent.
	sent atomic.Bool
	out  io.Writer
	bars bool
	// hold is the label of the hold the record takes ("": none).
	hold string
	// fetched counts the layer bytes downloaded, from start on.
	fetched atomic.Int64
	start   time.Time
	// plan is the pull's use of the shared cache (nil: none).
	plan *layerPlan
}

// resolve asks the registry with the caller's credentials what name
// points at, and the store what the pull may take without fetching it.
func (s *Store) resolve(ctx context.Context, name string, out io.Writer, bars bool) (*pull, error) {
	p := &pull{s: s, name: name, out: out, bars: bars, start: time.Now()}
	fmt.Fprintf(out, "Resolving %s\n", name)
	resolver := s.resolver(s.credentials(&p.sent))
	resolved, desc, err := resolver.Resolve(ctx, name)
	if err != nil {
		return nil, pullError(name, err)
	}
	p.desc = desc
	if p.fetcher, err = resolver.Fetcher(ctx, resolved); err != nil {
		return nil, pullError(name, err)
	}
	if p.trust, err = s.pullTrust(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// trusted sets what a downloader of this pull may take from the store
// without fetching it (access.go).
func (p *pull) trusted(d *downloader) {
	d.repo = repository(p.name)
	d.trust = p.trust(d)
}

// viaDaemon fetches into a containerd daemon's store under the session's
// lease, without the node lock, and takes the lock to unpack and record.
func (p *pull) viaDaemon(ctx context.Context) (*Image, error) {
	locks := filepath.Join(p.s.root, stagingDir, "locks")
	if err := os.MkdirAll(locks, 0o700); err != nil {
		return nil, fmt.Errorf("creating the download locks: %w", err)
	}
	var img *Image
	err := p.s.withDaemon(ctx, func(ctx context.Context, ss *session) error {
		dl := &downloader{cs: ss.cs, remote: p.fetcher, limits: p.s.Limits, claims: &claims{dir: locks}}
		defer dl.claims.release(context.WithoutCancel(ctx))
		p.trusted(dl)
		if err := fetchImage(ctx, ss, p.desc, dl, nil, p.out, p.bars, &p.fetched); err != nil {
			return pullError(p.name, err)
		}
		lock, err := p.s.lock(ctx, exclusive)
		if err != nil {
			return err
		}
		defer lock.Close()
		img, err = p.record(ctx, ss)
		return err
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// viaStaging stages the blobs the store lacks without the node lock, then
// commits them under it. Nothing under the node lock waits on a registry:
// a blob that went missing meanwhile, or a layer of the store found
// corrupt, is staged again, without the lock.
func (p *pull) viaStaging(ctx context.Context) (*Image, error) {
	for attempt := 1; ; attempt++ {
		st, err := p.s.stage(ctx, p.desc, p.fetcher, p.trusted, p.plan, p.out, p.bars, &p.fetched)
		if err != nil {
			return nil, pullError(p.name, err)
		}
		img, err := p.commit(ctx, st)
		st.cleanup(ctx)
		if !(errors.Is(err, errNotStaged) || errors.Is(err, errRefetch)) || attempt == 3 {
			return img, err
		}
	}
}

// commit moves the staged blobs into the store under the node lock,
// records them in its metadata, and unpacks and records the image.
func (p *pull) commit(ctx context.Context, st *staging) (*Image, error) {
	var img *Image
	err := p.s.with(ctx, func(ctx context.Context, ss *session) error {
		if err := st.adopt(); err != nil {
			return err
		}
		// The staged blobs are reported and counted already: this walk
		// only records them in the store.
		dl := &downloader{cs: ss.cs, remote: st, limits: p.s.Limits, freeDir: p.s.root}
		if err := fetchImage(ctx, ss, p.desc, dl, p.plan, io.Discard, false, new(atomic.Int64)); err != nil {
			return errors.Join(pullError(p.name, err), ss.collect(ctx))
		}
		var err error
		img, err = p.record(ctx, ss)
		return st.dropCorrupt(err, p.s.log())
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// record (under the node lock) unpacks the fetched image and then records
// it, with the pull's hold: a name never points at an image that is not
// complete, nor at one that is not held for the run that pulls it. What a
// failed unpack left is collected.
func (p *pull) record(ctx context.Context, ss *session) (*Image, error) {
	img, err := ss.unpack(ctx, p.name, p.desc, p.s.Limits, p.plan)
	if err != nil {
		return nil, errors.Join(err, ss.collect(ctx))
	}
	old, err := ss.images.Get(ctx, p.name)
	if err != nil && !errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("recording image %s: %w", p.name, err)
	}
	rec := images.Image{Name: p.name, Target: p.desc, Labels: p.s.pullLabels(old, p.desc.Digest, !p.sent.Load())}
	if p.hold != "" {
		who, herr := holder()
		if herr != nil {
			return nil, herr
		}
		rec.Labels[p.hold] = who
	}
	if errdefs.IsNotFound(err) {
		_, err = ss.images.Create(ctx, rec)
	} else {
		_, err = ss.images.Update(ctx, rec, "target", "labels")
	}
	if err != nil {
		return nil, fmt.Errorf("recording image %s: %w", p.name, err)
	}
	if err := ss.collectMoved(ctx, old, p.desc.Digest); err != nil {
		return nil, err
	}
	img.hold = p.hold
	fmt.Fprintf(p.out, "Digest: %s\n", p.desc.Digest)
	fmt.Fprintf(p.out, "Status: Downloaded %s: layers %s compressed, %s unpacked, in %s\n", p.name, units.HumanSize(float64(p.fetched.Load())), units.HumanSize(float64(img.Size)), time.Since(p.start).Round(time.Millisecond))
	return img, nil
}

// fetchImage fetches into the session's store what the image desc needs
// and it lacks (not the layers plan takes from the shared cache), and
// labels the manifests' children for its garbage collection, reporting
// layers on out.
func fetchImage(ctx context.Context, ss *session, desc ocispec.Descriptor, dl *downloader, plan *layerPlan, out io.Writer, bars bool, fetched *atomic.Int64) error {
	fetch, report, stop := fetchHandlers(ctx, ss.cs, dl, out, bars, fetched)
	config := func(ctx context.Context, c ocispec.Descriptor) ([]byte, error) {
		if _, err := fetch(ctx, c); err != nil {
			return nil, err
		}
		return content.ReadBlob(ctx, verified{ss.cs}, c)
	}
	children := limitLayers(plan.skipCached(imageChildren(images.SetChildrenLabels(ss.cs, images.ChildrenHandler(verified{ss.cs}))), config), dl.limits.MaxImageSize)
	err := images.Dispatch(ctx, images.Handlers(fetch, report, children), nil, desc)
	stop()
	return err
}

// imageChildren narrows children to what a pull of this node fetches: the
// one manifest of an index for Platform. A pull, and what an image record
// is trusted to hold (pullTrust), walk the same.
func imageChildren(children images.HandlerFunc) images.HandlerFunc {
	return images.LimitManifests(images.FilterPlatforms(children, Platform), Platform, 1)
}

// fetchHandlers fetch each blob into cs through dl (fetch) and report
// layers on out (report): bars on a terminal, else a line each. stop ends
// the bars.
func fetchHandlers(ctx context.Context, cs content.Store, dl *downloader, out io.Writer, bars bool, fetched *atomic.Int64) (fetch, report images.HandlerFunc, stop func()) {
	fetch = dl.fetch
	if !bars {
		return fetch, reportLayers(out, fetched), func() {}
	}
	pb := startBars(ctx, cs, out)
	barred := pb.handlers(fetch)
	// A bar names the blob by its digest: only one that is a digest.
	fetch = func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if err := dl.bound(desc); err != nil {
			return nil, err
		}
		return barred(ctx, desc)
	}
	return fetch, reportLayers(io.Discard, fetched), pb.Stop
}

// reportLayers prints one line per layer, as docker pull does (a plain
// line each, for LSF output files), and counts the bytes.
func reportLayers(out io.Writer, fetched *atomic.Int64) images.HandlerFunc {
	return func(_ context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if images.IsLayerType(desc.MediaType) {
			fmt.Fprintf(out, "%s: Pull complete (%s)\n", desc.Digest.Encoded()[:12], units.HumanSize(float64(desc.Size)))
			fetched.Add(desc.Size)
		}
		return nil, nil
	}
}

// unpack applies the layers of the image desc (name) to snapshots,
// skipping those present, taking those plan hit from the shared cache
// (and publishing those it publishes), writing at most what limits allow, and
// labels the config with the top snapshot so GC keeps it.
func (ss *session) unpack(ctx context.Context, name string, desc ocispec.Descriptor, limits Limits, plan *layerPlan) (*Image, error) {
	manifest, err := images.Manifest(ctx, verified{ss.cs}, desc, Platform)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	diffIDs, err := images.RootFS(ctx, verified{ss.cs}, manifest.Config)
	if err != nil {
		return nil, fmt.Errorf("image %s: reading config: %w", name, err)
	}
	if len(diffIDs) != len(manifest.Layers) {
		return nil, fmt.Errorf("image %s: config lists %d layers, manifest %d", name, len(diffIDs), len(manifest.Layers))
	}
	layers := make([]rootfs.Layer, len(diffIDs))
	for i := range diffIDs {
		layers[i] = rootfs.Layer{
			Blob: manifest.Layers[i],
			Diff: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: diffIDs[i]},
		}
	}
	if err := ss.checkReused(ctx, name, layers, plan); err != nil {
		return nil, err
	}
	applier := layerApplier{cs: ss.cs, allowDevices: ss.allowDevices, plan: plan, budget: &budget{limit: limits.MaxImageSize, files: limits.MaxImageFiles, keep: limits.MinFreeSpace}}
	chainID, err := rootfs.ApplyLayers(ctx, layers, ss.sn, applier)
	if err != nil {
		return nil, fmt.Errorf("image %s: unpacking layers: %w", name, corruptLayer(ctx, ss.cs, manifest.Layers, err))
	}
	for _, l := range layers { // each was unpacked and its digest checked, or checked above
		if _, ok := plan.hit(l.Blob.Digest); !ok {
			if err := ss.labelUncompressed(ctx, l); err != nil {
				return nil, err
			}
		}
	}
	info := content.Info{Digest: manifest.Config.Digest, Labels: map[string]string{snapshotLabel: chainID.String()}}
	if _, err := ss.cs.Update(ctx, info, "labels."+snapshotLabel); err != nil {
		return nil, fmt.Errorf("image %s: labelling config: %w", name, err)
	}
	return ss.describe(ctx, images.Image{Name: name, Target: desc})
}

// pullError makes registry failures one readable line.
func pullError(name string, err error) error {
	switch {
	case isAuthError(err):
		return fmt.Errorf("pull %s: %w: log in with dockless login (%v)", name, ErrUnauthorized, err)
	case errdefs.IsNotFound(err):
		return fmt.Errorf("pull %s: not found: the image or tag does not exist at the registry (or needs a login): %w", name, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("pull %s: timed out: %w", name, err)
	default:
		return fmt.Errorf("pull %s: %w", name, err)
	}
}
