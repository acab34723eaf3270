package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
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
	// Credentials are the caller's, for private images (nil: anonymous).
	Credentials Credentials
	// Bars draws per-layer progress bars on Progress (a terminal) instead
	// of one plain line per layer (batch output, LSF output files).
	Bars bool
}

// Pull resolves ref at its registry, fetches the manifest for this platform,
// its config and layers (only what the store lacks), unpacks the layers into
// snapshots and records the image under its normalised name.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	name, err := Normalize(ref)
	if err != nil {
		return nil, err
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
	var fetched atomic.Int64
	start := time.Now()
	fmt.Fprintf(out, "Resolving %s\n", name)
	resolver := s.resolver(opts.Credentials)
	resolved, desc, err := resolver.Resolve(ctx, name)
	if err != nil {
		return nil, pullError(name, err)
	}
	fetcher, err := resolver.Fetcher(ctx, resolved)
	if err != nil {
		return nil, pullError(name, err)
	}
	// Downloads do not hold the node lock, so that a long pull does not
	// hold up the jobs that use other images: the embedded store fetches
	// into its staging area and then moves the blobs in under the lock; a
	// containerd daemon fetches under the session's lease and takes the
	// lock only to record and unpack.
	var img *Image
	// record (under the lock) records the fetched image and unpacks it.
	record := func(ctx context.Context, ss *session) error {
		rec := images.Image{Name: name, Target: desc, Labels: map[string]string{lastUsedLabel: strconv.FormatInt(time.Now().UnixNano(), 10)}}
		if _, err := ss.images.Update(ctx, rec, "target", "labels."+lastUsedLabel); err != nil {
			if !errdefs.IsNotFound(err) {
				return fmt.Errorf("recording image %s: %w", name, err)
			}
			if _, err := ss.images.Create(ctx, rec); err != nil {
				return fmt.Errorf("recording image %s: %w", name, err)
			}
		}
		var err error
		if img, err = ss.unpack(ctx, rec); err != nil {
			return err
		}
		fmt.Fprintf(out, "Digest: %s\n", desc.Digest)
		fmt.Fprintf(out, "Status: Downloaded %s: layers %s compressed, %s unpacked, in %s\n", name, units.HumanSize(float64(fetched.Load())), units.HumanSize(float64(img.Size)), time.Since(start).Round(time.Millisecond))
		return nil
	}
	if s.Containerd != "" {
		err = s.withDaemon(ctx, func(ctx context.Context, ss *session) error {
			if err := fetchImage(ctx, ss, desc, fetcher, out, opts.Bars, &fetched); err != nil {
				return pullError(name, err)
			}
			lock, err := s.lock(ctx)
			if err != nil {
				return err
			}
			defer lock.Close()
			return record(ctx, ss)
		})
	} else {
		st, serr := s.stage(ctx, desc, fetcher, out, opts.Bars, &fetched)
		if serr != nil {
			return nil, pullError(name, serr)
		}
		defer st.cleanup()
		err = s.with(ctx, func(ctx context.Context, ss *session) error {
			if err := st.adopt(); err != nil {
				return err
			}
			// The staged blobs are reported and counted already: this
			// walk only records them in the store.
			if err := fetchImage(ctx, ss, desc, st, io.Discard, false, new(atomic.Int64)); err != nil {
				return pullError(name, err)
			}
			return record(ctx, ss)
		})
	}
	if err != nil {
		return nil, err
	}
	return img, nil
}

// fetchImage fetches into the session's store what the image desc needs
// and it lacks, and labels the manifests' children for its garbage
// collection, reporting layers on out.
func fetchImage(ctx context.Context, ss *session, desc ocispec.Descriptor, fetcher remotes.Fetcher, out io.Writer, bars bool, fetched *atomic.Int64) error {
	fetch, report, stop := fetchHandlers(ctx, ss.cs, fetcher, out, bars, fetched)
	children := images.ChildrenHandler(ss.cs)
	children = images.SetChildrenLabels(ss.cs, children)
	children = images.FilterPlatforms(children, Platform)
	children = images.LimitManifests(children, Platform, 1)
	err := images.Dispatch(ctx, images.Handlers(fetch, report, children), nil, desc)
	stop()
	return err
}

// fetchHandlers fetch each blob into cs from fetcher (fetch) and report
// layers on out (report): bars on a terminal, else a line each. stop ends
// the bars.
func fetchHandlers(ctx context.Context, cs content.Store, fetcher remotes.Fetcher, out io.Writer, bars bool, fetched *atomic.Int64) (fetch, report images.HandlerFunc, stop func()) {
	fetch = remotes.FetchHandler(cs, fetcher)
	if !bars {
		return fetch, reportLayers(out, fetched), func() {}
	}
	pb := startBars(ctx, cs, out)
	return pb.handlers(fetch), reportLayers(io.Discard, fetched), pb.Stop
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

// unpack applies the image's layers to snapshots (skipping those present)
// and labels the config with the top snapshot so GC keeps it.
func (ss *session) unpack(ctx context.Context, rec images.Image) (*Image, error) {
	manifest, err := images.Manifest(ctx, ss.cs, rec.Target, Platform)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", rec.Name, err)
	}
	diffIDs, err := images.RootFS(ctx, ss.cs, manifest.Config)
	if err != nil {
		return nil, fmt.Errorf("image %s: reading config: %w", rec.Name, err)
	}
	if len(diffIDs) != len(manifest.Layers) {
		return nil, fmt.Errorf("image %s: config lists %d layers, manifest %d", rec.Name, len(diffIDs), len(manifest.Layers))
	}
	layers := make([]rootfs.Layer, len(diffIDs))
	for i := range diffIDs {
		layers[i] = rootfs.Layer{
			Blob: manifest.Layers[i],
			Diff: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: diffIDs[i]},
		}
	}
	chainID, err := rootfs.ApplyLayers(ctx, layers, ss.sn, layerApplier{cs: ss.cs, allowDevices: ss.allowDevices})
	if err != nil {
		return nil, fmt.Errorf("image %s: unpacking layers: %w", rec.Name, err)
	}
	info := content.Info{Digest: manifest.Config.Digest, Labels: map[string]string{snapshotLabel: chainID.String()}}
	if _, err := ss.cs.Update(ctx, info, "labels."+snapshotLabel); err != nil {
		return nil, fmt.Errorf("image %s: labelling config: %w", rec.Name, err)
	}
	return ss.describe(ctx, rec)
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
