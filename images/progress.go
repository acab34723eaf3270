package images

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressBars draws one bar per layer, as docker pull does on a
// terminal: a bar appears when the layer's fetch starts, follows the
// content store's ingest status, and completes when the layer is stored.
type progressBars struct {
	p      *mpb.Progress
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	bars   map[string]*mpb.Bar // by ingest ref
}

// startBars draws on out; when out is a Relay to a terminal, the bars are
// drawn through the relay and sized by the terminal.
func startBars(ctx context.Context, cs content.Store, out io.Writer) *progressBars {
	ctx, cancel := context.WithCancel(ctx)
	cw := cupwriter.New(out, false)
	if r, ok := out.(*Relay); ok {
		if f, ok := r.file(); ok {
			cw.SetTermFd(int(f.Fd()))
		}
	}
	pb := &progressBars{p: mpb.New(mpb.WithConsoleWriter(cw), mpb.WithWidth(40), mpb.WithAutoRefresh()), cancel: cancel, bars: map[string]*mpb.Bar{}}
	pb.wg.Add(1)
	go func() {
		defer pb.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			statuses, _ := cs.ListStatuses(ctx)
			pb.mu.Lock()
			for _, st := range statuses {
				if b, ok := pb.bars[st.Ref]; ok {
					b.SetCurrent(st.Offset)
				}
			}
			pb.mu.Unlock()
		}
	}()
	return pb
}

// handlers wrap a fetch: a bar before it, completed after it.
func (pb *progressBars) handlers(fetch images.HandlerFunc) images.HandlerFunc {
	return func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if !images.IsLayerType(desc.MediaType) {
			return fetch(ctx, desc)
		}
		ref := ingestRef(ctx, desc)
		pb.mu.Lock()
		b := pb.p.AddBar(desc.Size,
			mpb.PrependDecorators(decor.Name(desc.Digest.Encoded()[:12]+": "), decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.Percentage()))
		pb.bars[ref] = b
		pb.mu.Unlock()
		children, err := fetch(ctx, desc)
		if err != nil {
			b.Abort(false)
			return nil, err
		}
		b.SetCurrent(desc.Size)
		return children, nil
	}
}

// Stop ends the bars (every one is complete or aborted by now) and waits
// for the last redraw.
func (pb *progressBars) Stop() {
	pb.cancel()
	pb.wg.Wait()
	pb.mu.Lock()
	for _, b := range pb.bars {
		if !b.Completed() {
			b.Abort(false)
		}
	}
	pb.mu.Unlock()
	pb.p.Wait()
}
