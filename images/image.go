package images

import (
	"github.com/containerd/containerd/v2/core/mount"
	"sort"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/containerd/containerd/v2/core/snapshots"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNotFound means the store has no image by that name or ID.
var ErrNotFound = errors.New("no such image")

// Image is one image of the store, as the front ends need it.
type Image struct {
	// Name is the normalised reference (docker.io/library/busybox:latest).
	Name string
	// Target is the descriptor the name points at (index or manifest).
	Target ocispec.Descriptor
	// ID is the config digest, docker's image ID.
	ID digest.Digest
	// Config is the image configuration (ENTRYPOINT, CMD, ENV, ...).
	Config ocispec.Image
	// ChainID names the top snapshot of the unpacked layers.
	ChainID digest.Digest
	// Size is the unpacked size in bytes.
	Size int64
	// Mounts are the rootfs mounts of the container whose snapshot Ensure
	// prepared in the session that found the image (PullOptions.Prepare);
	// nil otherwise. Release removes that snapshot.
	Mounts []mount.Mount
	// hold is the label of this process's hold on the image (hold.go),
	// "" when it holds none.
	hold string
	// record is the name of the store's record the image was found under
	// when it is not Name (a digest reference finds the record of a tag):
	// holds and the last use are kept there.
	record string
}

// recordName is the name of the image's record in the store.
func (i *Image) recordName() string {
	if i.record != "" {
		return i.record
	}
	return i.Name
}

// Created is when the image was built (zero when the config says nothing).
func (i *Image) Created() time.Time {
	if i.Config.Created == nil {
		return time.Time{}
	}
	return *i.Config.Created
}

// Normalize turns a docker reference ("busybox", "host:5000/x") into the
// full name the store uses ("docker.io/library/busybox:latest").
func Normalize(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("invalid reference format %q: %w", ref, err)
	}
	return named.String(), nil
}

// repository is the repository of a normalised name, with its registry
// host and without tag or digest.
func repository(name string) string {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return reference.TrimNamed(named).String()
}

// Familiar splits a normalised name into docker's REPOSITORY and TAG
// columns ("busybox", "latest"; "<none>" for a digest-only name).
func Familiar(name string) (repo, tag string) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name, "<none>"
	}
	repo, tag = reference.FamiliarName(named), "<none>"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return repo, tag
}

// describe reads what the front ends need of an image record.
func (ss *session) describe(ctx context.Context, rec images.Image) (*Image, error) {
	manifest, err := images.Manifest(ctx, verified{ss.cs}, rec.Target, Platform)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", rec.Name, err)
	}
	blob, err := content.ReadBlob(ctx, verified{ss.cs}, manifest.Config)
	if err != nil {
		return nil, fmt.Errorf("image %s: reading config: %w", rec.Name, err)
	}
	img := &Image{Name: rec.Name, Target: rec.Target, ID: manifest.Config.Digest}
	if err := json.Unmarshal(blob, &img.Config); err != nil {
		return nil, fmt.Errorf("image %s: bad config: %w", rec.Name, err)
	}
	img.ChainID = identity.ChainID(img.Config.RootFS.DiffIDs)
	for i := range img.Config.RootFS.DiffIDs {
		u, err := ss.sn.Usage(ctx, identity.ChainID(img.Config.RootFS.DiffIDs[:i+1]).String())
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", rec.Name, err)
		}
		img.Size += u.Size
	}
	return img, nil
}

// find looks an image up by name, then a digest reference (repo@sha256:…)
// among the images of that repository cached under a tag, then by ID
// prefix among the images the caller may use: knowing an ID proves
// nothing, and a name can be checked at its registry. It returns the
// record (named as asked for a digest reference) and the name the record
// has in the store.
func (s *Store) find(ctx context.Context, ss *session, ref string) (images.Image, string, error) {
	if name, err := Normalize(ref); err == nil {
		rec, err := ss.images.Get(ctx, name)
		if err == nil {
			return rec, rec.Name, nil
		}
		if !errdefs.IsNotFound(err) {
			return images.Image{}, "", err
		}
		if rec, ok, err := findByDigest(ctx, ss, name); err != nil || ok {
			stored := rec.Name
			rec.Name = name
			return rec, stored, err
		}
	}
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) >= 4 && strings.Trim(id, "0123456789abcdef") == "" {
		all, err := ss.images.List(ctx)
		if err != nil {
			return images.Image{}, "", err
		}
		for _, rec := range all {
			if !s.allowed(rec) {
				continue
			}
			cfg, err := images.Config(ctx, ss.cs, rec.Target, Platform)
			if err == nil && strings.HasPrefix(cfg.Digest.Encoded(), id) {
				return rec, rec.Name, nil
			}
		}
	}
	return images.Image{}, "", fmt.Errorf("%w: %s", ErrNotFound, ref)
}

// findByDigest finds the image the digest reference name (normalised)
// names among the records of its repository: one whose name points at
// that manifest (or index) digest, as docker's RepoDigests. find returns
// the record under name, so that a check at the registry asks for the
// digest, and nothing that records an answer on the tag's record does.
func findByDigest(ctx context.Context, ss *session, name string) (images.Image, bool, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return images.Image{}, false, nil
	}
	canonical, ok := named.(reference.Canonical)
	if !ok {
		return images.Image{}, false, nil
	}
	all, err := ss.images.List(ctx)
	if err != nil {
		return images.Image{}, false, err
	}
	repo := reference.TrimNamed(named).String()
	for _, rec := range all {
		if rec.Target.Digest == canonical.Digest() && repository(rec.Name) == repo {
			return rec, true, nil
		}
	}
	return images.Image{}, false, nil
}

// List returns the images the caller may use. A record that cannot be
// read (its content or layers are gone) is left out: one broken image
// never stops a listing (image prune removes it).
func (s *Store) List(ctx context.Context) ([]Image, error) {
	var out []Image
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		all, err := ss.images.List(ctx)
		if err != nil {
			return err
		}
		for _, rec := range all {
			if !s.allowed(rec) {
				continue
			}
			if img, err := ss.describe(ctx, rec); err == nil {
				out = append(out, *img)
			}
		}
		return nil
	})
	return out, err
}

// Remove deletes the image named ref (one the caller may use: root may
// remove any) and garbage-collects the content and snapshots nothing
// references any more. Snapshots of running containers are roots, so
// their layers survive. It returns the removed name.
func (s *Store) Remove(ctx context.Context, ref string) (string, error) {
	var name string
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		rec, record, err := s.find(ctx, ss, ref)
		if err != nil {
			return err
		}
		if !s.allowed(rec) {
			return fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		name = record
		return ss.removeAndCollect(ctx, []stored{{name: record}})
	})
	return name, err
}

// lastUsedLabel records when a container last used an image, for the
// store's size cap (least recently used goes first).
const lastUsedLabel = "dockless.last-used"

// stored is an image of the store as pruning sees it.
type stored struct {
	name     string
	size     int64
	lastUsed string // zero-padded, so that it sorts by time
	inUse    bool   // a container's layer or snapshot is on it, or a live process holds it
	broken   bool   // its content or layers are gone: it cannot be used
	visible  bool   // the caller may use it (and so learn its name)
}

// inventory lists the store's images with their size, last use and
// whether a container uses them or a run holds them (hold.go); it forgets
// the holds of processes that are gone.
func (s *Store) inventory(ctx context.Context, ss *session) ([]stored, error) {
	used := map[string]bool{}
	err := ss.sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if strings.HasPrefix(info.Name, containerKey("")) && info.Parent != "" {
			used[info.Parent] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ss.local != nil {
		live, _, err := ss.local.layers()
		if err != nil {
			return nil, err
		}
		for _, chain := range live {
			used[chain] = true
		}
	}
	recs, err := ss.images.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []stored
	for _, rec := range recs {
		held, dead := holds(rec.Labels)
		if err := ss.unhold(ctx, rec.Name, dead...); err != nil {
			return nil, err
		}
		im := stored{name: rec.Name, lastUsed: fmt.Sprintf("%020s", rec.Labels[lastUsedLabel]), visible: s.allowed(rec), inUse: held}
		if img, err := ss.describe(ctx, rec); err != nil {
			im.broken = true
		} else {
			im.size, im.inUse = img.Size, held || used[img.ChainID.String()]
		}
		out = append(out, im)
	}
	return out, nil
}

// removeAndCollect deletes the images and collects what nothing
// references any more: also when it deletes none (dockless image prune
// with nothing to prune still removes what killed sessions left).
func (ss *session) removeAndCollect(ctx context.Context, gone []stored) error {
	for _, im := range gone {
		if err := ss.images.Delete(ctx, im.name); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	return ss.collect(ctx)
}

// named are the names of the images in list that the caller may see, and
// how many there are in all.
func named(list []stored) (names []string, count int) {
	for _, im := range list {
		if im.visible {
			names = append(names, im.name)
		}
	}
	return names, len(list)
}

// Prune removes images no running container uses: all of them with all,
// else only those without a tag (pulled by digest), and broken records
// either way. It returns the names removed that the caller may see, and
// how many were removed in all.
func (s *Store) Prune(ctx context.Context, all bool) ([]string, int, error) {
	var gone []stored
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		inv, err := s.inventory(ctx, ss)
		if err != nil {
			return err
		}
		for _, im := range inv {
			if im.broken || (!im.inUse && (all || strings.Contains(im.name, "@"))) {
				gone = append(gone, im)
			}
		}
		return ss.removeAndCollect(ctx, gone)
	})
	if err == nil && s.Containerd == "" {
		err = s.pruneStaging(ctx)
	}
	names, count := named(gone)
	return names, count, err
}

// EnforceCap evicts the least recently used images that no container uses
// and no run holds (hold.go) until the images' unpacked size is at most
// max bytes: what is in use or about to start stays, over the cap if need
// be, with a warning. It returns the names removed that the caller may
// see, and how many were removed in all.
func (s *Store) EnforceCap(ctx context.Context, max int64) ([]string, int, error) {
	if s.underCap(ctx, max) {
		return nil, 0, nil
	}
	var gone, kept []stored
	var total int64
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		inv, err := s.inventory(ctx, ss)
		if err != nil {
			return err
		}
		for _, im := range inv {
			total += im.size
		}
		sort.Slice(inv, func(i, j int) bool { return inv[i].lastUsed < inv[j].lastUsed })
		for _, im := range inv {
			switch {
			case total <= max:
			case im.inUse:
				kept = append(kept, im)
			case !im.broken:
				gone = append(gone, im)
				total -= im.size
			}
		}
		if len(gone) == 0 {
			return nil // under the cap: no collection at every start
		}
		return ss.removeAndCollect(ctx, gone)
	})
	if err == nil && total > max {
		s.log().Warnf("store size cap ([store] max_size %s in %s): the images take %s, over the cap, since those in use or about to start stay (%s)",
			units.BytesSize(float64(max)), s.PolicySource, units.BytesSize(float64(total)), keptNames(named(kept)))
	}
	names, count := named(gone)
	return names, count, err
}

// underCap reports, from a shared session (the starts of a capped node
// need not queue for the cap), whether the store's images take no more
// than max: then there is nothing to evict.
func (s *Store) underCap(ctx context.Context, max int64) bool {
	var total int64
	err := s.withShared(ctx, func(ctx context.Context, ss *session) error {
		recs, err := ss.images.List(ctx)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if img, err := ss.describe(ctx, rec); err == nil {
				total += img.Size // a broken record counts nothing, as in the cap's pass
			}
		}
		return nil
	})
	return err == nil && total <= max
}

// keptNames names the images kept over the cap that the caller may see,
// and counts the others.
func keptNames(names []string, count int) string {
	if others := count - len(names); others > 0 {
		names = append(names, fmt.Sprintf("%d images of other users", others))
	}
	return strings.Join(names, ", ")
}
