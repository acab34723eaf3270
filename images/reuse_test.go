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

// TestTag_AnotherUsersNameIsNeverTheRegistrys: a name a user made on the
// node (tag, build) is not the registry's image of that name for anyone
// else — root and offline nodes included, and not when the registry
// cannot be asked.
func TestTag_AnotherUsersNameIsNeverTheRegistrys(t *testing.T) {
	s, reg := testStore(t)
	ref := push(t, reg, "mallory/tool:1", busyboxWith(t, "trojan", 10))
	s.As = Caller{UID: 4242}
	pullOK(t, s, ref)
	victimName := strings.Replace(ref, "mallory/tool:1", "library/ubuntu:22.04", 1)
	if _, err := s.Tag(context.Background(), ref, victimName); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		as     Caller
		pull   PullPolicy
		before func()
	}{
		{"user, online", Caller{UID: 5000}, PullNever, nil},
		{"root, --pull never", Caller{Root: true}, PullNever, nil},
		{"root, registry down", Caller{Root: true}, PullMissing, func() { reg.Close() }},
		{"user, offline node", Caller{UID: 5000}, PullMissing, func() { s.Offline = true }},
	} {
		if c.before != nil {
			c.before()
		}
		s.As = c.as
		if img, _, err := s.lookup(ctx, victimName, c.pull, PullOptions{}); err == nil {
			t.Errorf("%s: got mallory's local image %s for %s", c.name, img.Target.Digest, victimName)
		}
	}
	s.As, s.Offline = Caller{UID: 4242}, false
	if _, _, err := s.lookup(ctx, victimName, PullNever, PullOptions{}); err != nil {
		t.Errorf("mallory's own name is hers: %v", err)
	}
}
