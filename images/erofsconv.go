package images

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/erofs/go-erofs"
	"golang.org/x/sys/unix"
)

// writeErofs writes the directory dir — one unpacked layer, in overlay's
// form — as an uncompressed EROFS image to out, with github.com/erofs/go-erofs
// in process: every entry with its mode, owner, mtime and extended
// attributes (whiteouts stay 0:0 character devices, opaque directories
// keep trusted.overlay.opaque), in lexical order, with a fixed build time,
// so the same directory gives the same bytes. Working from the unpacked
// layer rather than its tar leaves duplicate tar entries and unlisted
// parents to the unpack, which resolved them already. Hard links stay hard
// links: the first name (in that order) holds the file with the link count
// of its names in the layer; each later name is written as an empty file
// and, once the image is closed, its directory entry is pointed at the
// first name's inode (linkNames, erofslink.go), leaving the empty inode
// unnamed in the image.
//
// The layer is the image's directory imageLayerDir, not its root: go-erofs
// numbers the root's inode 0, and glibc before 2.37 (Debian 12, EL9)
// skips directory entries whose inode number is 0, so the `..` of every
// top-level directory of the layer would vanish inside containers. The
// layer's own directory has a nonzero number; the overlay takes the
// mounted image's imageLayerDir as its lower.
func writeErofs(out *os.File, dir string) error {
	w := erofs.Create(out, erofs.WithBuildTime(0, 0))
	names := linkNamer{first: map[fileID]string{}, nlink: map[string]uint32{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		name := entryPath(rel)
		if names.later(&st, name) {
			f, err := w.Create(name)
			if err != nil {
				return err
			}
			return f.Close()
		}
		return addEntry(w, path, name, &st)
	})
	if err != nil {
		return err
	}
	for _, l := range names.links {
		if err := w.SetNlink(l.first, names.nlink[l.first]); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if len(names.links) == 0 {
		return nil
	}
	return linkNames(out, names.links, names.nlink)
}

// fileID names an inode of the layer's file system.
type fileID struct{ dev, ino uint64 }

// linkNamer tells a regular file's first name in the layer from its later
// ones (hard links).
type linkNamer struct {
	first map[fileID]string // an inode's first name
	nlink map[string]uint32 // a first name's count of names
	links []hardLink        // the later names, in walk order
}

// later records name, the file st, and reports whether it is a later name
// of a file met before.
func (n *linkNamer) later(st *unix.Stat_t, name string) bool {
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink < 2 {
		return false
	}
	id := fileID{uint64(st.Dev), st.Ino}
	first, ok := n.first[id]
	if !ok {
		n.first[id] = name
		n.nlink[name] = 1
		return false
	}
	n.nlink[first]++
	n.links = append(n.links, hardLink{name: name, first: first})
	return true
}

// imageLayerDir is the directory of a cached layer's image that holds the layer.
const imageLayerDir = "layer"

// entryPath is the name in the image of the layer's entry rel.
func entryPath(rel string) string {
	if rel == "." {
		return "/" + imageLayerDir
	}
	return "/" + imageLayerDir + "/" + filepath.ToSlash(rel)
}

// addEntry adds the file at path, st, to w as name, with its metadata.
func addEntry(w *erofs.Writer, path, name string, st *unix.Stat_t) error {
	perm := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := w.Mkdir(name, perm); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := addFile(w, path, name); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		if err := w.Symlink(target, name); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := w.Mknod(name, uint16(st.Mode&^0o7777)|uint16(perm), uint32(st.Rdev)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: unknown file type %o", path, st.Mode&unix.S_IFMT)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// Chmod carries the setuid, setgid and sticky bits too.
		if err := w.Chmod(name, goMode(st.Mode)); err != nil {
			return err
		}
	}
	if err := w.Chown(name, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	mtime := time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
	if err := w.Chtimes(name, mtime, mtime); err != nil {
		return err
	}
	return addXattrs(w, path, name)
}

// goMode is a Unix mode's permission and special bits as an fs.FileMode.
func goMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

func addFile(w *erofs.Writer, path, name string) error {
	src, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := w.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// addXattrs copies the extended attributes of the file at path.
func addXattrs(w *erofs.Writer, path, name string) error {
	size, err := unix.Llistxattr(path, nil)
	if err != nil || size == 0 {
		return err
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(path, buf); err != nil {
		return err
	}
	for _, attr := range bytes.Split(buf[:size], []byte{0}) {
		if len(attr) == 0 {
			continue
		}
		n, err := unix.Lgetxattr(path, string(attr), nil)
		if err != nil {
			return err
		}
		val := make([]byte, n)
		if n, err = unix.Lgetxattr(path, string(attr), val); err != nil {
			return err
		}
		if err := w.Setxattr(name, string(attr), string(val[:n])); err != nil {
			return err
		}
	}
	return nil
}
