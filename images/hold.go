package images

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
)

// A hold keeps an image from the store's size cap (EnforceCap) and from
// image prune from the moment a run finds or records it (Ensure or Pull
// with PullOptions.Hold) until its container's snapshot exists (Prepare),
// which keeps it from then on, or until the run lets go (Unhold). It is a
// label on the image record, set in the same session that found or
// recorded the image — no other dockless can evict it in between — and
// it names the holding process (pid and start time): the hold of a
// process that is gone is ignored, and forgotten by the next eviction, so
// a killed dockless never pins an image. A run whose image is usable as it
// is needs no hold: the session that finds it prepares the container's
// snapshot at once (PullOptions.Prepare).
const holdLabelPrefix = "dockless.hold."

// newHold is the label of a new hold: one per run, so that a process
// that holds one image twice lets go of each on its own.
func newHold() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return holdLabelPrefix + hex.EncodeToString(b), nil
}

// holder names this process in a hold: "PID START".
func holder() (string, error) {
	start, err := processStart(os.Getpid())
	if err != nil {
		return "", fmt.Errorf("holding an image: %w", err)
	}
	return fmt.Sprintf("%d %d", os.Getpid(), start), nil
}

// holdAlive reports whether the process a hold's value names still runs.
func holdAlive(v string) bool {
	pid, start, ok := strings.Cut(v, " ")
	p, err := strconv.Atoi(pid)
	if !ok || err != nil || p <= 0 {
		return false
	}
	now, err := processStart(p)
	return err == nil && strconv.FormatUint(now, 10) == start
}

// holds reports whether a live process holds the image of a record with
// labels, and which of its holds are dead.
func holds(labels map[string]string) (held bool, dead []string) {
	for k, v := range labels {
		if !strings.HasPrefix(k, holdLabelPrefix) {
			continue
		}
		if holdAlive(v) {
			held = true
		} else {
			dead = append(dead, k)
		}
	}
	return held, dead
}

// hold sets the hold label on the image name for this process.
func (ss *session) hold(ctx context.Context, name, label string) error {
	who, err := holder()
	if err != nil {
		return err
	}
	_, err = ss.images.Update(ctx, images.Image{Name: name, Labels: map[string]string{label: who}}, "labels."+label)
	return err
}

// unhold removes the labels (holds) from the image name, if it still
// exists.
func (ss *session) unhold(ctx context.Context, name string, labels ...string) error {
	if len(labels) == 0 {
		return nil
	}
	gone := map[string]string{}
	var paths []string
	for _, l := range labels {
		gone[l] = ""
		paths = append(paths, "labels."+l)
	}
	_, err := ss.images.Update(ctx, images.Image{Name: name, Labels: gone}, paths...)
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// Unhold lets go of img's hold, if it has one (Prepare took it over, or
// the run it was taken for does not start).
func (s *Store) Unhold(ctx context.Context, img *Image) error {
	if img == nil || img.hold == "" {
		return nil
	}
	err := s.with(ctx, func(ctx context.Context, ss *session) error { return ss.unhold(ctx, img.recordName(), img.hold) })
	if err != nil {
		return fmt.Errorf("letting go of image %s: %w", img.Name, err)
	}
	img.hold = ""
	return nil
}

// letGo lets go of img's hold when the run it was taken for does not get
// it: a hold dies with its process, so an interrupted caller does not wait
// for the store for it, and a failure is only logged.
func (s *Store) letGo(ctx context.Context, img *Image) {
	if err := s.Unhold(ctx, img); err != nil && ctx.Err() == nil {
		s.log().Warnf("%v", err)
	}
}

// processStart reads a process's start time (field 22 of /proc/PID/stat).
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, errors.New("bad stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}
