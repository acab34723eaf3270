package images

import (
	"context"
	"fmt"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
)

// withDaemon opens a session on a containerd daemon: its content store,
// overlay snapshotter and image store in the dockless namespace, under a
// lease so that nothing fetched or unpacked is collected before an image
// record or a container snapshot references it. If the daemon does not
// answer, that is the error: there is no silent fallback.
func (s *Store) withDaemon(ctx context.Context, fn func(context.Context, *session) error) error {
	client, err := containerd.New(s.Containerd, containerd.WithDefaultNamespace(Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("containerd at %s does not answer ([store] containerd_address / --containerd-address): %w", s.Containerd, err)
	}
	defer client.Close()
	ctx, done, err := client.WithLease(ctx, leases.WithExpiration(time.Hour))
	if err != nil {
		return fmt.Errorf("containerd at %s does not answer ([store] containerd_address / --containerd-address): %w", s.Containerd, err)
	}
	defer done(context.WithoutCancel(ctx)) //nolint:errcheck // an expired lease is removed by the daemon anyway
	return fn(ctx, &session{
		allowDevices: s.AllowDevices,
		cs:           client.ContentStore(),
		sn:           client.SnapshotService(snapshotter),
		images:       client.ImageService(),
		// The daemon collects on its own schedule once references go.
		collect: func(context.Context) error { return nil },
	})
}
