package images

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// linkGroups are the names of each file of linkedLayer, first name first.
var linkGroups = [][]string{
	{"bin/tool", "bin/tool-alias", "usr/bin/tool"}, // three names, two directories
	{"etc/a", "etc/hard"},                          // two names, one directory
	{"many/f150", "usr/many-link"},                 // a first name in a directory of several blocks
	{"etc/b", "many/zz-link"},                      // a later name in a directory of several blocks
}

// linkedLayer makes an unpacked layer whose files have several names
// (linkGroups), one directory of them holding 300 entries (its entries
// span blocks: FLAT_PLAIN rather than inline).
func linkedLayer(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for _, dir := range []string{"bin", "etc", "usr/bin", "many"} {
		if err := os.MkdirAll(filepath.Join(d, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 300; i++ {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("many/f%03d", i)), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, g := range linkGroups {
		if g[0] != "many/f150" {
			if err := os.WriteFile(filepath.Join(d, g[0]), []byte(fmt.Sprintf("file %d\n", i)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range g[1:] {
			if err := os.Link(filepath.Join(d, g[0]), filepath.Join(d, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return d
}

// convert writes the directory d as an EROFS image and returns its path.
func convert(t testing.TB, d string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "layer.erofs")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeErofs(f, d); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestWriteErofs_HardLinksShareAnInode: mounted, every name of a file
// is the same inode, with as many links as the layer has names for it,
// and reads the file; the files are distinct inodes.
func TestWriteErofs_HardLinksShareAnInode(t *testing.T) {
	if os.Geteuid() != 0 || !erofsKernel() {
		t.Skip("needs root and a kernel with EROFS to mount the image")
	}
	d := linkedLayer(t)
	img := convert(t, d)
	mnt := t.TempDir()
	if err := unix.Mount(img, mnt, "erofs", unix.MS_RDONLY, ""); err != nil {
		t.Skipf("mounting EROFS: %v", err)
	}
	defer unix.Unmount(mnt, 0)
	inodes := map[uint64]string{}
	for _, g := range linkGroups {
		var first unix.Stat_t
		for i, name := range g {
			p := filepath.Join(mnt, imageLayerDir, name)
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = st
				if other, ok := inodes[st.Ino]; ok {
					t.Errorf("%s and %s share inode %d", name, other, st.Ino)
				}
				inodes[st.Ino] = name
			}
			if st.Ino != first.Ino || st.Nlink != uint64(len(g)) {
				t.Errorf("%s: inode %d with %d links, want %s's %d with %d", name, st.Ino, st.Nlink, g[0], first.Ino, len(g))
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := os.ReadFile(filepath.Join(d, g[0])); !bytes.Equal(got, want) {
				t.Errorf("%s reads %q, want %q", name, got, want)
			}
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(mnt, imageLayerDir, "many/f149"), &st); err != nil || st.Nlink != 1 {
		t.Errorf("a file with one name has %d links (%v)", st.Nlink, err)
	}
}

// memImage is an image in memory, read and written at offsets.
type memImage []byte

func (m memImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m memImage) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m)) {
		return 0, io.ErrShortWrite
	}
	return copy(m[off:], p), nil
}

// linkedImage is linkedLayer's image and what linkNames needs to redo its links.
func linkedImage(t testing.TB) ([]byte, []hardLink, map[string]uint32) {
	t.Helper()
	raw, err := os.ReadFile(convert(t, linkedLayer(t)))
	if err != nil {
		t.Fatal(err)
	}
	var links []hardLink
	nlink := map[string]uint32{}
	for _, g := range linkGroups {
		first := entryPath(g[0])
		nlink[first] = uint32(len(g))
		for _, name := range g[1:] {
			links = append(links, hardLink{name: entryPath(name), first: first})
		}
	}
	return raw, links, nlink
}

// TestLinkNames_RefusesWhatItDoesNotExpect: an image damaged where the
// links are found is refused with an error, never a panic or a guess.
func TestLinkNames_RefusesWhatItDoesNotExpect(t *testing.T) {
	raw, links, nlink := linkedImage(t)
	if err := linkNames(memImage(bytes.Clone(raw)), links, nlink); err != nil {
		t.Fatalf("the image as written: %v", err)
	}
	e, err := openErofs(memImage(raw))
	if err != nil {
		t.Fatal(err)
	}
	etcNid, _, etcEntry, err := e.resolve("/layer/etc")
	if err != nil {
		t.Fatal(err)
	}
	aNid, _, _, err := e.resolve("/layer/etc/a")
	if err != nil {
		t.Fatal(err)
	}
	etc, err := e.dir(etcNid)
	if err != nil {
		t.Fatal(err)
	}
	etcBlock, _, err := e.block(etc, 0)
	if err != nil {
		t.Fatal(err)
	}
	etcInode := e.metaBase + int64(etcNid)*erofsSlotSize
	put16 := func(at int64, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint16(b[at:], v); return b }
	}
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		links  []hardLink
	}{
		{"empty", func(b []byte) []byte { return nil }, links},
		{"cut inside the superblock", func(b []byte) []byte { return b[:erofsSuperOffset+64] }, links},
		{"cut before the metadata", func(b []byte) []byte { return b[:e.metaBase] }, links},
		{"cut inside the metadata", func(b []byte) []byte { return b[:etcInode+16] }, links},
		{"no magic", func(b []byte) []byte { b[erofsSuperOffset] ^= 1; return b }, links},
		{"block size 2^8", func(b []byte) []byte { b[erofsSuperOffset+12] = 8; return b }, links},
		{"block size 2^40", func(b []byte) []byte { b[erofsSuperOffset+12] = 40; return b }, links},
		{"compressed (LZ4 feature)", func(b []byte) []byte { b[erofsSuperOffset+80] |= 1; return b }, links},
		{"root a regular file", put16(erofsSuperOffset+14, uint16(aNid)), links},
		{"directory etc compressed", put16(etcInode, 1|3<<1), links},
		{"directory etc with unknown format bits", put16(etcInode, 1|2<<1|1<<4), links},
		{"directory etc a file", put16(etcInode+4, 0o100755), links},
		{"entry etc pointing far away", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[etcEntry:], 1<<40)
			return b
		}, links},
		{"first name offset zero", put16(etcBlock+8, 0), links},
		{"first name offset not a whole entry", put16(etcBlock+8, 13), links},
		{"first name past the block", put16(etcBlock+8, 5000), links},
		{"a name inside the entries", put16(etcBlock+erofsDirentSize+8, 2), links},
		{"a link's name missing", func(b []byte) []byte {
			i := bytes.Index(b[etcBlock:], []byte("hard"))
			copy(b[etcBlock+int64(i):], "hird")
			return b
		}, links},
		{"a link to a directory", func(b []byte) []byte { return b }, []hardLink{{name: "/layer/etc/hard", first: "/layer/usr"}}},
		{"a link over a directory", func(b []byte) []byte { return b }, []hardLink{{name: "/layer/usr", first: "/layer/etc/a"}}},
		{"a link under a file", func(b []byte) []byte { return b }, []hardLink{{name: "/layer/etc/a/x", first: "/layer/etc/b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.damage(bytes.Clone(raw))
			err := linkNames(memImage(img), tc.links, nlink)
			if err == nil {
				t.Fatal("linked")
			}
			t.Log(err)
		})
	}
}

// FuzzLinkNames: linkNames on any damage to an image neither panics nor
// leaves a link that go-erofs reads as another inode.
func FuzzLinkNames(f *testing.F) {
	raw, links, nlink := linkedImage(f)
	for _, at := range []int{erofsSuperOffset, erofsSuperOffset + 12, erofsSuperOffset + 40, len(raw) / 2, len(raw) - 4096, len(raw) - 1} {
		f.Add(at, byte(0xff), len(raw))
	}
	f.Add(0, byte(0), len(raw)/2)
	f.Fuzz(func(t *testing.T, at int, xor byte, size int) {
		if size < 0 || size > len(raw) {
			size = len(raw)
		}
		img := bytes.Clone(raw[:size])
		if at >= 0 && at < len(img) {
			img[at] ^= xor
		}
		// Success means checkLinks read every link back as its first name.
		_ = linkNames(memImage(img), links, nlink)
	})
}
