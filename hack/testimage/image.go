package testimage

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is the static busybox the images are built from
// (Debian's busybox-static); hack/registry's -busybox changes it.
var BusyboxPath = "/bin/busybox"

// File is one entry of a layer.
type File struct {
	Name     string
	Mode     int64
	Body     []byte
	Linkname string // symlink target when set
	Hardlink string // when set, a hard link to this earlier name of the layer (Mode: its mode, which the unpack sets)
	Dir      bool
	UID, GID int
	// Char, when non-zero, makes the entry a character device major:minor.
	Char [2]int64
}

// Passwd and Group are the image's /etc files: root, nobody and a user
// "alice" (1000) in group "users" (100) and "research" (2000).
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:100:Alice:/home/alice:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	Group  = "root:x:0:\nusers:x:100:\nresearch:x:2000:alice\nnogroup:x:65534:\n"
)

// Options shape an image.
type Options struct {
	// Compression of the layers: "gzip" (default) or "zstd".
	Compression string
	// Config overrides of the image config.
	Entrypoint, Cmd, Env []string
	WorkingDir, User     string
	// Volumes are the image's VOLUME paths.
	Volumes []string
	// Extra are files added in a last layer of their own.
	Extra []File
	// Raw, when set, is the uncompressed content of a last layer, tar or
	// not (a corrupt layer).
	Raw []byte
}

// Busybox builds a three-layer image: busybox with every applet linked in
// /bin, then /etc and a home directory, then a layer that deletes
// /etc/motd through a whiteout (so whiteouts are exercised on every run).
func Busybox(o Options) (v1.Image, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s (install busybox-static): %w", BusyboxPath, err)
	}
	applets, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	base := []File{{Name: "bin", Dir: true, Mode: 0o755}, {Name: "bin/busybox", Mode: 0o755, Body: bb}}
	for _, a := range strings.Fields(string(applets)) {
		if a != "busybox" {
			base = append(base, File{Name: "bin/" + a, Linkname: "busybox"})
		}
	}
	etc := []File{
		{Name: "etc", Dir: true, Mode: 0o755},
		{Name: "etc/passwd", Mode: 0o644, Body: []byte(Passwd)},
		{Name: "etc/group", Mode: 0o644, Body: []byte(Group)},
		{Name: "etc/motd", Mode: 0o644, Body: []byte("removed by the next layer\n")},
		{Name: "home", Dir: true, Mode: 0o755},
		{Name: "home/alice", Dir: true, Mode: 0o755, UID: 1000, GID: 100},
		{Name: "root", Dir: true, Mode: 0o700},
		{Name: "tmp", Dir: true, Mode: 0o1777},
	}
	whiteout := []File{{Name: "etc", Dir: true, Mode: 0o755}, {Name: "etc/.wh.motd", Mode: 0o644}}
	layerFiles := [][]File{base, etc, whiteout}
	if len(o.Extra) > 0 {
		layerFiles = append(layerFiles, o.Extra)
	}
	img := empty.Image
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, files := range layerFiles {
		l, err := Layer(files, o.Compression)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, err
		}
	}
	if o.Raw != nil {
		l, err := rawLayer(o.Raw)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, err
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, o.Env...)
	cfg.Config.Cmd = []string{"sh"}
	if o.Cmd != nil {
		cfg.Config.Cmd = o.Cmd
	}
	cfg.Config.Entrypoint = o.Entrypoint
	cfg.Config.WorkingDir = o.WorkingDir
	cfg.Config.User = o.User
	for _, v := range o.Volumes {
		if cfg.Config.Volumes == nil {
			cfg.Config.Volumes = map[string]struct{}{}
		}
		cfg.Config.Volumes[v] = struct{}{}
	}
	return mutate.ConfigFile(img, cfg)
}

// Layer makes a layer from files, compressed with gzip (default) or zstd.
func Layer(files []File, comp string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, Uid: f.UID, Gid: f.GID, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch {
		case f.Dir:
			h.Typeflag, h.Name = tar.TypeDir, f.Name+"/"
		case f.Linkname != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.Linkname, 0o777
		case f.Hardlink != "":
			h.Typeflag, h.Linkname = tar.TypeLink, f.Hardlink
		case f.Char != [2]int64{}:
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, f.Char[0], f.Char[1]
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return layerOf(buf.Bytes(), comp)
}

// rawLayer is a gzip layer of data, whatever it is.
func rawLayer(data []byte) (v1.Layer, error) { return layerOf(data, "gzip") }

func layerOf(data []byte, comp string) (v1.Layer, error) {
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	opts := []tarball.LayerOption{tarball.WithMediaType(types.OCILayer)}
	if comp == "zstd" {
		opts = []tarball.LayerOption{tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd)}
	}
	return tarball.LayerFromOpener(opener, opts...)
}

// Index wraps img in a multi-platform index next to a linux/arm64 decoy
// (the same layers under another platform), so a pull must choose.
func Index(img v1.Image) (v1.ImageIndex, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	arm := cfg.DeepCopy()
	arm.Architecture = "arm64"
	decoy, err := mutate.ConfigFile(img, arm)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx,
		mutate.IndexAddendum{Add: decoy, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	), nil
}

// WithBigFile is busybox plus a layer holding /big, size bytes of random
// data (incompressible, so the download takes its size).
func WithBigFile(size int) (v1.Image, error) {
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return nil, err
	}
	return Busybox(Options{Extra: []File{{Name: "big", Mode: 0o644, Body: data}}})
}
