package images

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
)

// TestSharedCacheLookup: a layer is taken from the cache only when its
// file and sidecar are root's alone, the sidecar lists the pull's
// repository and the file hashes to the sidecar's sum; the node hashes it
// once and knows it again until it changes.
func TestSharedCacheLookup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (owners)")
	}
	const repo = "registry.example/lab/app"
	body := []byte("not really erofs, hashed all the same")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	diffID := digest.FromString("layer")
	for _, tc := range []struct {
		name string
		// setup spoils the published layer at path.
		setup func(t *testing.T, path string)
		hit   bool
	}{
		{"published", func(*testing.T, string) {}, true},
		{"another repository", func(t *testing.T, path string) {
			writeFile(t, path+sidecarSuffix, sidecarBytes(good, []string{"registry.example/other"}), 0o600)
		}, false},
		{"flipped byte", func(t *testing.T, path string) {
			writeFile(t, path, []byte("Not really erofs, hashed all the same"), 0o600)
		}, false},
		{"readable by others", func(t *testing.T, path string) { chmod(t, path, 0o644) }, false},
		{"sidecar readable by others", func(t *testing.T, path string) { chmod(t, path+sidecarSuffix, 0o604) }, false},
		{"another owner", func(t *testing.T, path string) { chown(t, path, 1000) }, false},
		{"no sidecar", func(t *testing.T, path string) { rm(t, path+sidecarSuffix) }, false},
		{"a symlink", func(t *testing.T, path string) {
			rm(t, path)
			writeFile(t, path+".real", body, 0o600)
			if err := os.Symlink(path+".real", path); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"no file", func(t *testing.T, path string) { rm(t, path) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			chmod(t, dir, 0o711)
			c := &sharedCache{dir: dir, node: filepath.Join(t.TempDir(), "erofs"), log: logrus.New()}
			c.log.(*logrus.Logger).SetOutput(io.Discard)
			path := layerPath(dir, diffID)
			if err := c.mkdirs(filepath.Dir(path)); err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, body, 0o600)
			writeFile(t, path+sidecarSuffix, sidecarBytes(good, []string{repo}), 0o600)
			tc.setup(t, path)
			rec, hit := c.lookup(diffID, repo)
			if hit != tc.hit {
				t.Fatalf("hit %v, want %v", hit, tc.hit)
			}
			if !hit {
				return
			}
			if rec.Path != path || rec.Sum != good || rec.DiffID != diffID.String() {
				t.Errorf("record %+v", rec)
			}
			// Known again without hashing; a change is seen.
			if _, hit := c.lookup(diffID, repo); !hit {
				t.Error("a second lookup missed")
			}
			writeFile(t, path, []byte("Not really erofs, hashed all the same"), 0o600)
			if _, hit := c.lookup(diffID, repo); hit {
				t.Error("a file changed after its check is still taken")
			}
		})
	}
}

func writeFile(t *testing.T, p string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, p string, uid int) {
	t.Helper()
	if err := os.Chown(p, uid, 0); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}
