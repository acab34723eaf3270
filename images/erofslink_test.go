package images

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// writeCounter is an image that counts the writes made to it.
type writeCounter struct {
	memImage
	writes int
}

func (w *writeCounter) WriteAt(p []byte, off int64) (int, error) {
	w.writes++
	return w.memImage.WriteAt(p, off)
}

// TestLinkNames_RefusesWhatItDoesNotExpect: an image damaged where the
// links are found is refused — by the part of the reader that reads the
// damage — with an error before any byte is written, never a panic or a
// guess.
func TestLinkNames_RefusesWhatItDoesNotExpect(t *testing.T) {
	raw, links, nlink := linkedImage(t)
	if err := linkNames(memImage(bytes.Clone(raw)), links, nlink); err != nil {
		t.Fatalf("the image as written: %v", err)
	}
	e, err := openErofs(memImage(raw))
	if err != nil {
		t.Fatal(err)
	}
	nidOf := func(name string) (uint64, int64) {
		ent, err := e.resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		return ent.nid, ent.at
	}
	etcNid, etcEntry := nidOf("/layer/etc")
	manyNid, _ := nidOf("/layer/many")
	aNid, _ := nidOf("/layer/etc/a")
	etc, err := e.dir(etcNid)
	if err != nil {
		t.Fatal(err)
	}
	etcBlock, _, err := e.block(etc, 0)
	if err != nil {
		t.Fatal(err)
	}
	inode := func(nid uint64) int64 { return e.metaBase + int64(nid)*erofsSlotSize }
	put16 := func(at int64, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint16(b[at:], v); return b }
	}
	put64 := func(at int64, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint64(b[at:], v); return b }
	}
	same := func(b []byte) []byte { return b }
	// Where each damage must be seen.
	super := func(b []byte) error { _, err := openErofs(memImage(b)); return err }
	dir := func(nid uint64) func([]byte) error {
		return func(b []byte) error {
			e, err := openErofs(memImage(b))
			if err == nil {
				_, err = e.dir(nid)
			}
			return err
		}
	}
	find := func(name string) func([]byte) error {
		return func(b []byte) error {
			e, err := openErofs(memImage(b))
			if err == nil {
				_, err = e.resolve(name)
			}
			return err
		}
	}
	for _, tc := range []struct {
		name    string
		damage  func([]byte) []byte
		links   []hardLink
		refused func([]byte) error // the reader's part that must refuse it
	}{
		{"empty", func(b []byte) []byte { return nil }, links, super},
		{"cut inside the superblock", func(b []byte) []byte { return b[:erofsSuperOffset+64] }, links, super},
		{"cut before the metadata", func(b []byte) []byte { return b[:e.metaBase] }, links, dir(e.rootNid)},
		{"cut inside the directory etc", func(b []byte) []byte { return b[:inode(etcNid)+16] }, links, dir(etcNid)},
		{"no magic", func(b []byte) []byte { b[erofsSuperOffset] ^= 1; return b }, links, super},
		{"block size 2^8", func(b []byte) []byte { b[erofsSuperOffset+12] = 8; return b }, links, super},
		{"block size 2^40", func(b []byte) []byte { b[erofsSuperOffset+12] = 40; return b }, links, super},
		{"compressed (LZ4 feature)", func(b []byte) []byte { b[erofsSuperOffset+80] |= 1; return b }, links, super},
		{"root a regular file", put16(erofsSuperOffset+14, uint16(aNid)), links, dir(aNid)},
		{"directory etc with unknown format bits", put16(inode(etcNid), 1|2<<1|1<<4), links, dir(etcNid)},
		{"directory etc a file", put16(inode(etcNid)+4, 0o100755), links, dir(etcNid)},
		{"directory many compressed", put16(inode(manyNid), 1|1<<1), links, dir(manyNid)},
		{"directory etc of size 0", put64(inode(etcNid)+8, 0), links, dir(etcNid)},
		{"directory etc of size 2^62", put64(inode(etcNid)+8, 1<<62), links, dir(etcNid)},
		{"directory etc's entries crossing a block", put64(inode(etcNid)+8, 1<<e.blkBits), links, find("/layer/etc/a")},
		{"entry etc naming a nid whose offset wraps", put64(etcEntry, 1<<59|etcNid), links, find("/layer/etc/a")},
		{"first name offset zero", put16(etcBlock+8, 0), links, find("/layer/etc/a")},
		{"a link's name missing", func(b []byte) []byte {
			i := bytes.Index(b[etcBlock:], []byte("hard"))
			copy(b[etcBlock+int64(i):], "hird")
			return b
		}, links, find("/layer/etc/hard")},
		{"a name twice in etc", func(b []byte) []byte {
			i := bytes.Index(b[etcBlock:], []byte("abhard"))
			copy(b[etcBlock+int64(i):], "aa")
			return b
		}, links, find("/layer/etc/a")},
		{"a link to a directory", same, []hardLink{{name: "/layer/etc/hard", first: "/layer/usr"}}, nil},
		{"a link over a directory", same, []hardLink{{name: "/layer/usr", first: "/layer/etc/a"}}, nil},
		{"a link under a file", same, []hardLink{{name: "/layer/etc/a/x", first: "/layer/etc/b"}}, find("/layer/etc/a/x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.damage(bytes.Clone(raw))
			if tc.refused != nil && tc.refused(img) == nil {
				t.Error("read without an error")
			}
			w := &writeCounter{memImage: img}
			err := linkNames(w, tc.links, nlink)
			if err == nil {
				t.Fatal("linked")
			}
			if w.writes != 0 {
				t.Errorf("wrote %d entries before refusing: %v", w.writes, err)
			}
		})
	}
}

// TestLinkNames_ReadsTheLinksBack: a link that go-erofs's reader does not
// read back as its first name, with the link count of its names, is an
// error (here: the image holds 2 names of etc/a, not 3).
func TestLinkNames_ReadsTheLinksBack(t *testing.T) {
	raw, links, nlink := linkedImage(t)
	nlink[entryPath("etc/a")]++
	if err := linkNames(memImage(raw), links, nlink); err == nil {
		t.Error("a link count the image does not hold was not seen")
	}
}

// TestBlockNames: a directory block's names are read in order, and a
// block whose entries or names lie out of place is refused.
func TestBlockNames(t *testing.T) {
	// block is a directory block of entries at the name offsets offs,
	// followed by names.
	block := func(names string, offs ...uint16) []byte {
		b := make([]byte, len(offs)*erofsDirentSize)
		for i, off := range offs {
			binary.LittleEndian.PutUint16(b[i*erofsDirentSize+8:], off)
		}
		return append(b, names...)
	}
	for _, tc := range []struct {
		name  string
		block []byte
		want  string // the names, comma-separated; "refused"
	}{
		{"three names", block("...a", 36, 37, 39), ".,..,a"},
		{"one name", block("a", 12), "a"},
		{"the last name with trailing NULs", block("...ab\x00\x00", 36, 37, 39), ".,..,ab"},
		{"empty", nil, "refused"},
		{"shorter than an entry", []byte{12, 0, 0}, "refused"},
		{"first name at 0", block("a", 0), "refused"},
		{"first name inside the entries", block("xa", 13), "refused"},
		{"first name past the block", block("a", 48), "refused"},
		{"names running backwards", block(".a..", 24, 23), "refused"},
		{"a name past the block", block(".a", 24, 99), "refused"},
	} {
		names, err := blockNames(tc.block)
		got := strings.Join(names, ",")
		if err != nil {
			got = "refused"
		}
		if got != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.name, got, err, tc.want)
		}
	}
}

// FuzzLinkNames: linkNames on an image with a byte changed or cut short
// never panics (it links, every link read back by go-erofs, or errs).
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
