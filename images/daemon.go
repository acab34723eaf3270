package images

import (
	"context"
	"fmt"
	"time"

	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	leasesapi "github.com/containerd/containerd/api/services/leases/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/api/types"
	contentproxy "github.com/containerd/containerd/v2/core/content/proxy"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	leasesproxy "github.com/containerd/containerd/v2/core/leases/proxy"
	snapshotsproxy "github.com/containerd/containerd/v2/core/snapshots/proxy"
	"github.com/containerd/containerd/v2/pkg/dialer"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// daemonTimeout bounds the wait for a containerd daemon that does not
// answer, as containerd's own client's WithTimeout.
const daemonTimeout = 10 * time.Second

// maxMsgSize is containerd's limit of a gRPC message, both ways.
const maxMsgSize = 16 << 20

// withDaemon opens a session on a containerd daemon: its content store,
// overlay snapshotter and image store in the dockless namespace, under a
// lease so that nothing fetched or unpacked is collected before an image
// record or a container snapshot references it. If the daemon does not
// answer, that is the error: there is no silent fallback.
//
// It speaks to the daemon's content, snapshots, images and leases
// services directly, not through containerd's client package: that one
// brings every service's protobuf descriptors and proxies (tasks,
// transfer, sandboxes, introspection…) into the setuid binary, whose
// every start initialises them (about 3 ms a start here, BENCHMARKS.md).
func (s *Store) withDaemon(ctx context.Context, fn func(context.Context, *session) error) error {
	unanswered := func(err error) error {
		return fmt.Errorf("containerd at %s does not answer ([store] containerd_address / --containerd-address): %w", s.Containerd, err)
	}
	bo := backoff.DefaultConfig
	bo.MaxDelay = daemonTimeout
	conn, err := grpc.NewClient(dialer.DialAddress(s.Containerd),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: daemonTimeout}),
		grpc.WithContextDialer(dialer.ContextDialer),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)))
	if err != nil {
		return unanswered(err)
	}
	defer conn.Close()
	ctx = namespaces.WithNamespace(ctx, Namespace)
	lm := leasesproxy.NewLeaseManager(leasesapi.NewLeasesClient(conn))
	lctx, cancel := context.WithTimeout(ctx, daemonTimeout)
	lease, err := lm.Create(lctx, leases.WithRandomID(), leases.WithExpiration(time.Hour))
	cancel()
	if err != nil {
		return unanswered(err)
	}
	ctx = leases.WithLease(ctx, lease.ID)
	err = fn(ctx, &session{
		allowDevices: s.AllowDevices,
		cs:           contentproxy.NewContentStore(conn),
		sn:           snapshotsproxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), snapshotter),
		images:       &daemonImages{imagesapi.NewImagesClient(conn)},
		// The daemon collects on its own schedule once references go.
		collect: func(context.Context) error { return nil },
	})
	// What a failed session wrote (a refused pull's unfinished downloads)
	// is referenced by the lease alone: the daemon collects it before the
	// lease's deletion returns, so nothing of it outlives dockless. A
	// session that succeeded lets the daemon collect on its own schedule.
	var del []leases.DeleteOpt
	if err != nil {
		del = append(del, leases.SynchronousDelete)
	}
	_ = lm.Delete(context.WithoutCancel(ctx), lease, del...) // an expired lease is removed by the daemon anyway
	return err
}

// daemonImages is the daemon's image store (images.Store over its images
// service).
type daemonImages struct{ c imagesapi.ImagesClient }

func (d *daemonImages) Get(ctx context.Context, name string) (images.Image, error) {
	r, err := d.c.Get(ctx, &imagesapi.GetImageRequest{Name: name})
	if err != nil {
		return images.Image{}, errgrpc.ToNative(err)
	}
	return imageFromPB(r.Image), nil
}

func (d *daemonImages) List(ctx context.Context, filters ...string) ([]images.Image, error) {
	r, err := d.c.List(ctx, &imagesapi.ListImagesRequest{Filters: filters})
	if err != nil {
		return nil, errgrpc.ToNative(err)
	}
	out := make([]images.Image, 0, len(r.Images))
	for _, im := range r.Images {
		out = append(out, imageFromPB(im))
	}
	return out, nil
}

func (d *daemonImages) Create(ctx context.Context, im images.Image) (images.Image, error) {
	r, err := d.c.Create(ctx, &imagesapi.CreateImageRequest{Image: imageToPB(im)})
	if err != nil {
		return images.Image{}, errgrpc.ToNative(err)
	}
	return imageFromPB(r.Image), nil
}

func (d *daemonImages) Update(ctx context.Context, im images.Image, fieldpaths ...string) (images.Image, error) {
	req := &imagesapi.UpdateImageRequest{Image: imageToPB(im)}
	if len(fieldpaths) > 0 {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: fieldpaths}
	}
	r, err := d.c.Update(ctx, req)
	if err != nil {
		return images.Image{}, errgrpc.ToNative(err)
	}
	return imageFromPB(r.Image), nil
}

func (d *daemonImages) Delete(ctx context.Context, name string, opts ...images.DeleteOpt) error {
	var do images.DeleteOptions
	for _, o := range opts {
		if err := o(ctx, &do); err != nil {
			return err
		}
	}
	req := &imagesapi.DeleteImageRequest{Name: name, Sync: do.Synchronous}
	if do.Target != nil {
		req.Target = descToPB(*do.Target)
	}
	_, err := d.c.Delete(ctx, req)
	return errgrpc.ToNative(err)
}

func imageToPB(im images.Image) *imagesapi.Image {
	return &imagesapi.Image{
		Name:      im.Name,
		Labels:    im.Labels,
		Target:    descToPB(im.Target),
		CreatedAt: timestamppb.New(im.CreatedAt),
		UpdatedAt: timestamppb.New(im.UpdatedAt),
	}
}

func imageFromPB(im *imagesapi.Image) images.Image {
	return images.Image{
		Name:      im.GetName(),
		Labels:    im.GetLabels(),
		Target:    descFromPB(im.GetTarget()),
		CreatedAt: im.GetCreatedAt().AsTime(),
		UpdatedAt: im.GetUpdatedAt().AsTime(),
	}
}

func descToPB(d ocispec.Descriptor) *types.Descriptor {
	return &types.Descriptor{MediaType: d.MediaType, Digest: d.Digest.String(), Size: d.Size, Annotations: d.Annotations}
}

func descFromPB(d *types.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.GetMediaType(), Digest: digest.Digest(d.GetDigest()), Size: d.GetSize(), Annotations: d.GetAnnotations()}
}
