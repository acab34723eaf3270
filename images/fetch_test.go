package images

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// bytesFetcher serves the same bytes for every blob.
type bytesFetcher []byte

func (b bytesFetcher) Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b)), nil
}

// TestDownloader_CommitsOnlyTheDeclaredBlob: a blob enters the content
// store only with its descriptor's size and digest; whatever else a
// registry sends is refused and its download removed at once.
func TestDownloader_CommitsOnlyTheDeclaredBlob(t *testing.T) {
	genuine := []byte(strings.Repeat("genuine layer bytes ", 100))
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(genuine), Size: int64(len(genuine))}
	for _, c := range []struct {
		name   string
		served []byte
		desc   ocispec.Descriptor
		want   string // "" for success
	}{
		{"the genuine bytes", genuine, desc, ""},
		{"other bytes of the same length", bytes.Repeat([]byte{'x'}, len(genuine)), desc, "unexpected commit digest"},
		{"more bytes than declared", append(append([]byte(nil), genuine...), 'x'), desc, "exceeds expected size"},
		{"fewer bytes than declared", genuine[:10], desc, "short read"},
		{"a layer larger than the image may be", genuine, ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: 1 << 40}, "max_image_size"},
		{"a digest that names a file", genuine, ocispec.Descriptor{MediaType: desc.MediaType, Digest: "sha256:../../x", Size: desc.Size}, "invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := withPullID(context.Background())
			dir := t.TempDir()
			cs, err := local.NewStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			locks := filepath.Join(dir, "locks")
			if err := os.Mkdir(locks, 0o700); err != nil {
				t.Fatal(err)
			}
			d := &downloader{cs: cs, remote: bytesFetcher(c.served), limits: Limits{MaxImageSize: 1 << 30}, claims: &claims{dir: locks}}
			err = d.get(ctx, c.desc)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := cs.Info(ctx, desc.Digest); err != nil {
					t.Errorf("the blob is not in the store: %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if statuses, _ := cs.ListStatuses(ctx); len(statuses) != 0 {
				t.Errorf("downloads left: %v", statuses)
			}
			if left, _ := filepath.Glob(filepath.Join(locks, ingestLockPrefix+"*")); len(left) != 0 {
				t.Errorf("ingest locks left: %v", left)
			}
		})
	}
}

// stallingFetcher sends part of a blob and then nothing until ctx ends.
type stallingFetcher []byte

func (s stallingFetcher) Fetch(ctx context.Context, _ ocispec.Descriptor) (io.ReadCloser, error) {
	r, w := io.Pipe()
	go func() {
		_, _ = w.Write(s)
		<-ctx.Done()
		w.CloseWithError(ctx.Err())
	}()
	return r, nil
}

// TestDownloader_StalledDownloadsDoNotHoldUpOthers: a pull gives its own
// stalled download up, and a pull waiting for another's stalled download
// fetches the blob itself.
func TestDownloader_StalledDownloadsDoNotHoldUpOthers(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	dir := t.TempDir()
	cs, err := local.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	locks := filepath.Join(dir, "locks")
	if err := os.Mkdir(locks, 0o700); err != nil {
		t.Fatal(err)
	}
	limits := Limits{Stall: 300 * time.Millisecond}
	stalling := &downloader{cs: cs, remote: stallingFetcher(blob[:100<<10]), limits: limits, claims: &claims{dir: locks}}
	honest := &downloader{cs: cs, remote: bytesFetcher(blob), limits: limits, claims: &claims{dir: locks}}

	stalled := make(chan error, 1)
	go func() { stalled <- stalling.get(withPullID(context.Background()), desc) }()
	for i := 0; ; i++ { // the stalling pull holds the blob's lock
		if lock, _ := tryLock(filepath.Join(locks, desc.Digest.Encoded())); lock == nil {
			break
		} else if lock.Close(); i == 100 {
			t.Fatal("the stalling download never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := honest.get(withPullID(context.Background()), desc); err != nil {
		t.Fatalf("the pull waiting for a stalled download: %v", err)
	}
	if waited := time.Since(start); waited > 5*limits.Stall {
		t.Errorf("the waiting pull took %s, for a stall period of %s", waited, limits.Stall)
	}
	if _, err := cs.Info(context.Background(), desc.Digest); err != nil {
		t.Errorf("the blob is not in the store: %v", err)
	}
	select {
	case err := <-stalled:
		if err == nil || !strings.Contains(err.Error(), "given up") {
			t.Errorf("the stalled download: %v", err)
		}
	case <-time.After(10 * limits.Stall):
		t.Error("the stalled download was not given up")
	}
	if statuses, _ := cs.ListStatuses(context.Background()); len(statuses) != 0 {
		t.Errorf("downloads left: %v", statuses)
	}
}
