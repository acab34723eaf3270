package images

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/archive"
)

type entry struct {
	name, link string
	typ        byte
	body       string
}

func tarOf(t testing.TB, entries []entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if e.typ == tar.TypeChar || e.typ == tar.TypeBlock {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unpack applies a layer into a fresh root next to a sentinel directory
// and returns both.
func unpack(t testing.TB, layer []byte, allowDevices bool) (root, outside string, err error) {
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err = archive.Apply(context.Background(), root, bytes.NewReader(layer), archive.WithFilter(layerFilter(allowDevices, nil, root)))
	return root, outside, err
}

func TestLayers_NothingEscapesTheRootfs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"dot-dot", []entry{{name: "../outside/pwned", typ: tar.TypeReg, body: "x"}}},
		{"absolute path", []entry{{name: "/outside/pwned", typ: tar.TypeReg, body: "x"}}},
		{"symlink then write through it", []entry{{name: "link", link: "../outside", typ: tar.TypeSymlink}, {name: "link/pwned", typ: tar.TypeReg, body: "x"}}},
		{"absolute symlink then write through it", []entry{{name: "abs", link: "/", typ: tar.TypeSymlink}, {name: "abs/pwned", typ: tar.TypeReg, body: "x"}}},
		{"hard link out", []entry{{name: "hard", link: "../outside/target", typ: tar.TypeLink}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, outside, _ := unpack(t, tarOf(t, tc.entries), false)
			if entries, _ := os.ReadDir(outside); len(entries) > 0 {
				t.Fatalf("the layer wrote outside the rootfs: %v", entries)
			}
		})
	}
}

func TestLayers_DeviceNodesAreDroppedUnlessAllowed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating device nodes needs root")
	}
	layer := tarOf(t, []entry{{name: "evil-null", typ: tar.TypeChar}, {name: "disk", typ: tar.TypeBlock}, {name: "ok", typ: tar.TypeReg, body: "fine"}})
	root, _, err := unpack(t, layer, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"evil-null", "disk"} {
		if _, err := os.Lstat(filepath.Join(root, n)); err == nil {
			t.Errorf("device node %s was created", n)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "ok")); string(b) != "fine" {
		t.Errorf("regular files are kept: %q", b)
	}
	root, _, err = unpack(t, layer, true)
	if _, serr := os.Lstat(filepath.Join(root, "evil-null")); err != nil || serr != nil {
		t.Errorf("with layer_devices the node is kept: %v %v", err, serr)
	}
}

// FuzzLayerPaths: whatever names, link targets and types a layer holds,
// nothing appears outside the rootfs and unpacking never panics.
func FuzzLayerPaths(f *testing.F) {
	f.Add("../x", "", byte(tar.TypeReg), "a/b", "../../..", byte(tar.TypeSymlink))
	f.Add("l", "/", byte(tar.TypeSymlink), "l/x", "", byte(tar.TypeReg))
	f.Add("d", "../outside", byte(tar.TypeLink), "d", "", byte(tar.TypeReg))
	f.Fuzz(func(t *testing.T, n1, l1 string, t1 byte, n2, l2 string, t2 byte) {
		types := map[byte]bool{tar.TypeReg: true, tar.TypeSymlink: true, tar.TypeLink: true, tar.TypeDir: true}
		if !types[t1] || !types[t2] || strings.ContainsRune(n1+n2+l1+l2, 0) || n1 == "" || n2 == "" {
			return
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range []entry{{name: n1, link: l1, typ: t1, body: "1"}, {name: n2, link: l2, typ: t2, body: "2"}} {
			h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o755}
			if e.typ == tar.TypeReg {
				h.Size = int64(len(e.body))
			}
			if tw.WriteHeader(h) != nil {
				return
			}
			if e.typ == tar.TypeReg {
				_, _ = tw.Write([]byte(e.body))
			}
		}
		if tw.Close() != nil {
			return
		}
		_, outside, _ := unpack(t, buf.Bytes(), false)
		if entries, _ := os.ReadDir(outside); len(entries) > 0 {
			t.Fatalf("entries %q/%q -> %q/%q wrote outside the rootfs", n1, l1, n2, l2)
		}
	})
}

// TestBudget_RefusesTheEntryThatPassesTheBound: a pull's layers write at
// most the image bound (each entry counting its full size, a sparse
// file's included, and a block) and keep the free space; the entry that
// would pass either is refused before it is written.
func TestBudget_RefusesTheEntryThatPassesTheBound(t *testing.T) {
	dir := t.TempDir()
	file := func(size int64) *tar.Header { return &tar.Header{Name: "f", Typeflag: tar.TypeReg, Size: size} }
	many := make([]*tar.Header, 300)
	for i := range many {
		many[i] = &tar.Header{Name: "d", Typeflag: tar.TypeDir}
	}
	for _, c := range []struct {
		name    string
		b       budget
		entries []*tar.Header
		refused int // index of the refused entry, -1 for none
	}{
		{"within the bound", budget{limit: 1 << 20}, []*tar.Header{file(500 << 10), file(500 << 10)}, -1},
		{"past the bound", budget{limit: 1 << 20}, []*tar.Header{file(500 << 10), file(600 << 10)}, 1},
		{"a sparse file declared huge", budget{limit: 1 << 30}, []*tar.Header{{Name: "s", Typeflag: tar.TypeGNUSparse, Size: 1 << 40}}, 0},
		{"many empty entries", budget{limit: 1 << 20}, many, 256},
		{"more entries than files", budget{files: 100}, many, 100},
		{"no bound", budget{}, []*tar.Header{file(64 << 20), file(64 << 20)}, -1},
		{"more than the disk holds", budget{}, []*tar.Header{file(1 << 60)}, 0},
		{"less free space than kept", budget{keep: 1 << 60}, []*tar.Header{file(1)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			refused := -1
			for i, h := range c.entries {
				if err := c.b.charge(dir, h); err != nil {
					refused = i
					break
				}
			}
			if refused != c.refused {
				t.Fatalf("refused entry %d, want %d", refused, c.refused)
			}
		})
	}
}
