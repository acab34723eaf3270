package kit

import (
	"os"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/util/archutil"
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
