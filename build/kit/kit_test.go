package kit

import (
	"os"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/util/archutil"
	"google.golang.org/grpc/mem"
)

// TestProbePlatforms_DoneAndCleanWhenWaitedFor: once its wait returns,
// BuildKit's probe of the node's platforms is made (the first RUN step
// finds its answer), and it left no temporary directory behind.
func TestProbePlatforms_DoneAndCleanWhenWaitedFor(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	probePlatforms()()
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the probe left %d entries in TMPDIR, first %s", len(left), left[0].Name())
	}
	got := archutil.SupportedPlatforms(false)
	if len(got) == 0 || !platforms.Only(platforms.DefaultSpec()).Match(got[0]) {
		t.Errorf("platforms %v, want the node's first", got)
	}
}

// TestBufferPool_AMessageOfAChunkGetsNoMegabyte: a buffer for a message
// of a 32 KiB chunk and its framing is 64 KiB, not gRPC's default 1 MiB
// (bufferpool.go).
func TestBufferPool_AMessageOfAChunkGetsNoMegabyte(t *testing.T) {
	b := mem.DefaultBufferPool().Get(32<<10 + 64)
	defer mem.DefaultBufferPool().Put(b)
	if c := cap(*b); c != 64<<10 {
		t.Errorf("a buffer of %d bytes for a chunk's message, want %d", c, 64<<10)
	}
}
