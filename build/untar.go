package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// UntarStdin extracts the build context that came as a tar on stdin
// (CONTEXT "-") into dir: directories, regular files and symbolic links,
// every name inside dir.
func UntarStdin(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tr := tar.NewReader(os.Stdin)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir, nil
		}
		if err != nil {
			return "", fmt.Errorf("the context on stdin: %w", err)
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			return "", fmt.Errorf("the context on stdin: %q is outside the context", h.Name)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := extract(tr, h, p); err != nil {
			return "", fmt.Errorf("the context on stdin: %s: %w", h.Name, err)
		}
	}
}

func extract(r io.Reader, h *tar.Header, p string) error {
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(p, os.FileMode(h.Mode)&0o7777|0o700)
	case tar.TypeSymlink:
		return os.Symlink(h.Linkname, p)
	case tar.TypeReg:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(h.Mode)&0o7777)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		return errors.Join(err, f.Close())
	}
	return nil
}

// CheckContextSize refuses a context directory whose files add up to more
// than max bytes ([build] max_context_size; 0: no bound).
func CheckContextSize(dir string, max int64) error {
	if max <= 0 {
		return nil
	}
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			if total += info.Size(); total > max {
				return errContextTooLarge
			}
		}
		return nil
	})
	if errors.Is(err, errContextTooLarge) {
		return fmt.Errorf("the build context %s is larger than [build] max_context_size (%d bytes): leave out what the build does not need (.dockerignore does not count here), or ask the node's admin", dir, max)
	}
	return err
}

var errContextTooLarge = errors.New("context too large")
