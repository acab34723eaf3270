package images

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestPull_ConfigNamingAnotherImagesLayersIsRefused: an image whose config
// names the diff IDs of an image the store holds, over blobs of its own,
// would be given that image's snapshots (containerd reuses a snapshot by
// chain ID): its blobs are checked against the diff IDs and the pull is
// refused. An image that really shares the layers still reuses them.
func TestPull_ConfigNamingAnotherImagesLayersIsRefused(t *testing.T) {
	s, reg := testStore(t)
	vimg := busyboxWith(t, "victim-secret", 100)
	pullOK(t, s, push(t, reg, "victim/private:1", vimg))
	vcf, err := vimg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	mimg := busyboxWith(t, "mallory", 50)
	mcf, err := mimg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	mcf = mcf.DeepCopy()
	mcf.RootFS.DiffIDs = vcf.RootFS.DiffIDs
	forged, err := mutate.ConfigFile(mimg, mcf)
	if err != nil {
		t.Fatal(err)
	}
	s.As = Caller{UID: 4242}
	_, err = s.Pull(context.Background(), push(t, reg, "mallory/forged:1", forged), PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "not to the diff ID") {
		t.Fatalf("a config naming another image's diff IDs over other blobs: %v", err)
	}
	// The same layers under another name are the same image: reused.
	pullOK(t, s, push(t, reg, "mallory/copy:1", vimg))
}
