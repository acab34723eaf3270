package images

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/erofs/go-erofs"
)

// go-erofs v0.3.1 gives every name its own inode. A hard link is made
// after the writer closes the image: the later name is written as an empty
// file, then its directory entry is made to point at the first name's
// inode (linkNames). Only the 8 bytes of that entry's nid change, so the
// image stays deterministic. The empty inode stays in the image with no
// name, which is harmless: the kernel (and fsck.erofs) reach inodes only
// through directory entries, so it is never read; it costs one inode slot
// and counts in the superblock's informational inode count.

// hardLink is a later name of a file the image already holds under first.
type hardLink struct{ name, first string }

// The parts of EROFS's on-disk format (the kernel's fs/erofs/erofs_fs.h)
// that finding a directory entry needs.
const (
	erofsMagic          = 0xe0f5e1e2
	erofsSuperOffset    = 1024
	erofsSuperSize      = 128
	erofsSlotSize       = 32 // a nid counts 32-byte slots from the metadata's start
	erofsCompactSize    = 32
	erofsExtendedSize   = 64
	erofsDirentSize     = 12
	erofsLayoutPlain    = 0 // data in blocks from raw_blkaddr
	erofsLayoutInline   = 2 // full blocks from raw_blkaddr, the last one after the inode
	erofsFeatureChunked = 0x4
	erofsFTRegular      = 1
	erofsFTDir          = 2
	erofsMaxDirSize     = 1 << 30 // far above any layer's directory; bounds the reads
)

// erofsReader reads an uncompressed EROFS image's directories, refusing
// what it does not expect rather than guessing.
type erofsReader struct {
	r        io.ReaderAt
	blkBits  uint
	metaBase int64
	rootNid  uint64
	dirs     map[uint64]map[string]dirent // the directories read, by nid
}

// openErofs reads the superblock of the image r.
func openErofs(r io.ReaderAt) (*erofsReader, error) {
	sb := make([]byte, erofsSuperSize)
	if _, err := r.ReadAt(sb, erofsSuperOffset); err != nil {
		return nil, fmt.Errorf("reading the superblock: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint32(sb[0:]) != erofsMagic {
		return nil, errors.New("no EROFS superblock")
	}
	bits := uint(sb[12])
	if bits < 9 || bits > 16 {
		return nil, fmt.Errorf("block size 2^%d", bits)
	}
	// Compression, 48-bit addresses and the rest change how directories
	// are stored; chunked regular files do not.
	if incompat := le.Uint32(sb[80:]); incompat&^erofsFeatureChunked != 0 {
		return nil, fmt.Errorf("incompatible features %#x", incompat)
	}
	return &erofsReader{
		r:        r,
		blkBits:  bits,
		metaBase: int64(le.Uint32(sb[40:])) << bits,
		rootNid:  uint64(le.Uint16(sb[14:])),
		dirs:     map[uint64]map[string]dirent{},
	}, nil
}

// erofsDir is where a directory's entries lie.
type erofsDir struct {
	size    int64
	layout  int
	rawBlk  int64 // first data block
	tailOff int64 // FLAT_INLINE: where the last block's bytes start
}

// dir reads the inode nid, which must be a directory.
func (e *erofsReader) dir(nid uint64) (erofsDir, error) {
	if nid >= 1<<32 {
		return erofsDir{}, fmt.Errorf("nid %d out of range", nid)
	}
	off := e.metaBase + int64(nid)*erofsSlotSize
	ino := make([]byte, erofsExtendedSize)
	if _, err := e.r.ReadAt(ino[:erofsCompactSize], off); err != nil {
		return erofsDir{}, fmt.Errorf("reading inode %d: %w", nid, err)
	}
	le := binary.LittleEndian
	format := le.Uint16(ino[0:])
	if format&^0xf != 0 {
		return erofsDir{}, fmt.Errorf("inode %d: unknown format bits %#x", nid, format)
	}
	if le.Uint16(ino[4:])&0o170000 != 0o040000 {
		return erofsDir{}, fmt.Errorf("inode %d is not a directory", nid)
	}
	d := erofsDir{layout: int(format>>1) & 7, rawBlk: int64(le.Uint32(ino[16:]))}
	size := int64(erofsCompactSize)
	if format&1 == 0 {
		d.size = int64(le.Uint32(ino[8:]))
	} else {
		size = erofsExtendedSize
		if _, err := e.r.ReadAt(ino, off); err != nil {
			return erofsDir{}, fmt.Errorf("reading inode %d: %w", nid, err)
		}
		if s := le.Uint64(ino[8:]); s <= erofsMaxDirSize {
			d.size = int64(s)
		} else {
			d.size = erofsMaxDirSize + 1
		}
	}
	if d.size <= 0 || d.size > erofsMaxDirSize {
		return erofsDir{}, fmt.Errorf("inode %d: directory size %d", nid, d.size)
	}
	if d.layout != erofsLayoutPlain && d.layout != erofsLayoutInline {
		return erofsDir{}, fmt.Errorf("inode %d: directory layout %d", nid, d.layout)
	}
	if icount := int64(le.Uint16(ino[2:])); icount > 0 {
		size += 12 + (icount-1)*4 // the xattr body's header and its 4-byte slots
	}
	d.tailOff = off + size
	return d, nil
}

// block is where block bn of d lies in the image and how many bytes of it
// the directory uses.
func (e *erofsReader) block(d erofsDir, bn int64) (int64, int64, error) {
	blk := int64(1) << e.blkBits
	last := (d.size - 1) >> e.blkBits
	n := min(blk, d.size-bn*blk)
	if d.layout == erofsLayoutInline && bn == last {
		if d.tailOff%blk+n > blk {
			return 0, 0, errors.New("inline directory data crosses a block boundary")
		}
		return d.tailOff, n, nil
	}
	return (d.rawBlk + bn) << e.blkBits, n, nil
}

// dirent is a directory entry: the inode it names, its file type and
// where the entry lies in the image.
type dirent struct {
	nid   uint64
	ftype byte
	at    int64
}

// entries is the directory nid's entries by name, read once.
func (e *erofsReader) entries(nid uint64) (map[string]dirent, error) {
	if m, ok := e.dirs[nid]; ok {
		return m, nil
	}
	d, err := e.dir(nid)
	if err != nil {
		return nil, err
	}
	m := map[string]dirent{}
	for bn := int64(0); bn<<e.blkBits < d.size; bn++ {
		at, n, err := e.block(d, bn)
		if err != nil {
			return nil, err
		}
		b := make([]byte, n)
		if _, err := e.r.ReadAt(b, at); err != nil {
			return nil, fmt.Errorf("reading directory %d: %w", nid, err)
		}
		names, err := blockNames(b)
		if err != nil {
			return nil, fmt.Errorf("directory %d block %d: %w", nid, bn, err)
		}
		for i, name := range names {
			if _, ok := m[name]; ok {
				return nil, fmt.Errorf("directory %d names %q twice", nid, name)
			}
			ent := b[i*erofsDirentSize:]
			m[name] = dirent{nid: binary.LittleEndian.Uint64(ent), ftype: ent[10], at: at + int64(i*erofsDirentSize)}
		}
	}
	e.dirs[nid] = m
	return m, nil
}

// blockNames is the names of the entries of the directory block b, in
// order: 12-byte entries (nid, nameoff, file type, reserved), their count
// the first nameoff / 12, each name running to the next nameoff, the last
// to the block's end less trailing NULs.
func blockNames(b []byte) ([]string, error) {
	le := binary.LittleEndian
	if len(b) < erofsDirentSize {
		return nil, errors.New("short block")
	}
	first := int(le.Uint16(b[8:]))
	if first < erofsDirentSize || first >= len(b) || first%erofsDirentSize != 0 {
		return nil, fmt.Errorf("first name at %d", first)
	}
	count := first / erofsDirentSize
	names := make([]string, count)
	for i := range names {
		start := int(le.Uint16(b[i*erofsDirentSize+8:]))
		end := len(b)
		if i+1 < count {
			end = int(le.Uint16(b[(i+1)*erofsDirentSize+8:]))
		}
		if end < start || end > len(b) {
			return nil, fmt.Errorf("entry %d's name at %d..%d", i, start, end)
		}
		name := b[start:end]
		if i+1 == count {
			name = bytes.TrimRight(name, "\x00")
		}
		names[i] = string(name)
	}
	return names, nil
}

// resolve is the entry of the image's absolute path name, each directory
// on the way looked up in its parent (dir refuses a parent that is not a
// directory).
func (e *erofsReader) resolve(name string) (dirent, error) {
	ent := dirent{nid: e.rootNid, ftype: erofsFTDir}
	for _, part := range strings.Split(strings.TrimPrefix(name, "/"), "/") {
		m, err := e.entries(ent.nid)
		if err != nil {
			return dirent{}, fmt.Errorf("%s: %w", name, err)
		}
		next, ok := m[part]
		if !ok {
			return dirent{}, fmt.Errorf("%s: directory %d has no %q", name, ent.nid, part)
		}
		ent = next
	}
	return ent, nil
}

// linkNames makes each link's name in the closed image img the same inode
// as its first name, then checks the result with go-erofs's own reader:
// both names the same inode, with nlink[first] links. An image it does not
// understand is refused before any byte is written.
func linkNames(img interface {
	io.ReaderAt
	io.WriterAt
}, links []hardLink, nlink map[string]uint32) error {
	e, err := openErofs(img)
	if err != nil {
		return err
	}
	type patch struct {
		at  int64
		nid [8]byte
	}
	patches := make([]patch, 0, len(links))
	for _, l := range links {
		first, err := e.resolve(l.first)
		if err != nil {
			return err
		}
		link, err := e.resolve(l.name)
		if err != nil {
			return err
		}
		if first.ftype != erofsFTRegular || link.ftype != erofsFTRegular {
			return fmt.Errorf("hard link %s to %s: not both regular files", l.name, l.first)
		}
		p := patch{at: link.at}
		binary.LittleEndian.PutUint64(p.nid[:], first.nid)
		patches = append(patches, p)
	}
	for _, p := range patches {
		if _, err := img.WriteAt(p.nid[:], p.at); err != nil {
			return err
		}
	}
	return checkLinks(img, links, nlink)
}

// checkLinks reads each link back with go-erofs.
func checkLinks(img io.ReaderAt, links []hardLink, nlink map[string]uint32) error {
	fsys, err := erofs.Open(img)
	if err != nil {
		return err
	}
	inode := func(name string) (*erofs.Stat, error) {
		fi, err := fs.Stat(fsys, strings.TrimPrefix(name, "/"))
		if err != nil {
			return nil, err
		}
		st, ok := fi.Sys().(*erofs.Stat)
		if !ok {
			return nil, fmt.Errorf("%s: no inode", name)
		}
		return st, nil
	}
	for _, l := range links {
		first, err := inode(l.first)
		if err != nil {
			return err
		}
		got, err := inode(l.name)
		if err != nil {
			return err
		}
		if got.Ino != first.Ino || uint32(got.Nlink) != nlink[l.first] {
			return fmt.Errorf("hard link %s: inode %d with %d links, want %s's %d with %d",
				l.name, got.Ino, got.Nlink, l.first, first.Ino, nlink[l.first])
		}
	}
	return nil
}
