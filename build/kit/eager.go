package kit

import (
	"context"
	"sync"

	cacheconfig "github.com/moby/buildkit/cache/config"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/frontend"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/solver"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/compression"
	"github.com/moby/buildkit/worker"
	digest "github.com/opencontainers/go-digest"
)

// eagerLayers compresses the layers of the image a build exports while the
// build still runs, instead of all at the export. BuildKit computes a
// layer's blob (its tar, gzipped) only when an exporter asks, after the
// last step, and the largest layer's gzip is then the export's critical
// path (the benchmark's busybox COPY: ~60 ms of its ~150 ms export here;
// docs/BENCHMARKS.md), while a core sat mostly idle through the RUN steps
// before it. The blob is the very one the export makes (the same
// compression, the default: gzip at its default level), in BuildKit's
// own cache, where the exporter finds it (or waits for it: BuildKit's
// blob computation is shared by key).
//
// Only layers of the exported image are compressed early: the frontend's
// definition of the result (layersOf) names them, so a builder stage's
// layers, which a multi-stage build drops, cost nothing more; and only
// for a build whose outputs all take gzip blobs (an image, an OCI or
// docker tar, --load, --push, without compression options: needsBlobs).
// The hook is the file operations (COPY, ADD, WORKDIR): at each, its
// result and its inputs (the RUN step before it) that are layers start
// compressing. BuildKit's exec operations are left unwrapped: a wrapper
// would hide them from the build's provenance.
type eagerLayers struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	on      bool
	stopped bool
	layers  map[vertexOutput]bool
}

// vertexOutput names one result of a build's operation.
type vertexOutput struct {
	vertex digest.Digest
	index  int64
}

func newEagerLayers() *eagerLayers {
	ctx, cancel := context.WithCancel(context.Background())
	return &eagerLayers{ctx: ctx, cancel: cancel, layers: map[vertexOutput]bool{}}
}

// enable turns early compression on for a build with exports.
func (e *eagerLayers) enable(exports []client.ExportEntry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.on = needsBlobs(exports)
}

// needsBlobs reports whether every export takes the default blobs.
func needsBlobs(exports []client.ExportEntry) bool {
	if len(exports) == 0 {
		return false
	}
	for _, x := range exports {
		switch x.Type {
		case client.ExporterImage, client.ExporterOCI, client.ExporterDocker:
		default:
			return false
		}
		for _, k := range []string{"compression", "compression-level", "force-compression"} {
			if _, ok := x.Attrs[k]; ok {
				return false
			}
		}
	}
	return true
}

// stop cancels what is compressing and waits for it; nothing starts
// after (a file operation of an interrupted build may still finish).
func (e *eagerLayers) stop() {
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
}

// frontend is build with its solves' definitions noted: their results'
// layers are the image's.
func (e *eagerLayers) frontend(build gwclient.BuildFunc) gwclient.BuildFunc {
	return func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
		return build(ctx, &notingClient{Client: c, e: e})
	}
}

type notingClient struct {
	gwclient.Client
	e *eagerLayers
}

func (c *notingClient) Solve(ctx context.Context, req gwclient.SolveRequest) (*gwclient.Result, error) {
	if req.Definition != nil {
		if layers, err := layersOf(req.Definition); err == nil {
			c.e.mu.Lock()
			for l := range layers {
				c.e.layers[l] = true
			}
			c.e.mu.Unlock()
		}
	}
	return c.Client.Solve(ctx, req)
}

// worker is w with its file operations hooked.
func (e *eagerLayers) worker(w worker.Worker) worker.Worker {
	return &eagerWorker{Worker: w, e: e}
}

type eagerWorker struct {
	worker.Worker
	e *eagerLayers
}

func (w *eagerWorker) ResolveOp(v solver.Vertex, s frontend.FrontendLLBBridge, sm *session.Manager, proxy worker.ProxyOpt) (solver.Op, error) {
	op, err := w.Worker.ResolveOp(v, s, sm, proxy)
	if err != nil {
		return nil, err
	}
	if pbop, ok := v.Sys().(*pb.Op); ok && pbop.GetFile() != nil {
		return &eagerFileOp{Op: op, v: v, e: w.e}, nil
	}
	return op, nil
}

type eagerFileOp struct {
	solver.Op
	v solver.Vertex
	e *eagerLayers
}

func (op *eagerFileOp) Exec(ctx context.Context, jobCtx solver.JobContext, inputs []solver.Result) ([]solver.Result, error) {
	outputs, err := op.Op.Exec(ctx, jobCtx, inputs)
	if err != nil {
		return outputs, err
	}
	for i, edge := range op.v.Inputs() {
		if i < len(inputs) {
			op.e.compress(vertexOutput{edge.Vertex.Digest(), int64(edge.Index)}, inputs[i])
		}
	}
	for i, out := range outputs {
		op.e.compress(vertexOutput{op.v.Digest(), int64(i)}, out)
	}
	return outputs, nil
}

// compress starts computing the blob of res, the result at, when it is a
// layer of the image and early compression is on (each at most once).
func (e *eagerLayers) compress(at vertexOutput, res solver.Result) {
	if res == nil {
		return
	}
	wref, ok := res.Sys().(*worker.WorkerRef)
	if !ok || wref.ImmutableRef == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.on || e.stopped || !e.layers[at] {
		return
	}
	delete(e.layers, at)
	ref := wref.ImmutableRef.Clone()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer ref.Release(context.WithoutCancel(e.ctx))
		// A failure here is the export's to meet again, and report.
		_, _ = ref.GetRemotes(e.ctx, true, cacheconfig.RefConfig{Compression: compression.New(compression.Default)}, false, nil)
	}()
}

// layersOf are the results in def that are layers of its result: from the
// result back along each exec's mount (its output is that mount's
// input with the step's changes), each file operation's base, and every
// input of a merge. Source operations (an image's layers, which have
// their blobs, or a local context) end a chain.
func layersOf(def *pb.Definition) (map[vertexOutput]bool, error) {
	ops := map[digest.Digest]*pb.Op{}
	var last *pb.Op
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			return nil, err
		}
		ops[digest.FromBytes(dt)] = &op
		last = &op
	}
	layers := map[vertexOutput]bool{}
	if last == nil || len(last.Inputs) == 0 {
		return layers, nil
	}
	var walk func(in *pb.Input)
	walk = func(in *pb.Input) {
		at := vertexOutput{digest.Digest(in.Digest), in.Index}
		op, ok := ops[at.vertex]
		if !ok || layers[at] {
			return
		}
		switch {
		case op.GetExec() != nil:
			for _, m := range op.GetExec().Mounts {
				if m.Output == in.Index && m.Output >= 0 {
					layers[at] = true
					if m.Input >= 0 && m.Input < int64(len(op.Inputs)) {
						walk(op.Inputs[m.Input])
					}
				}
			}
		case op.GetFile() != nil:
			actions := op.GetFile().Actions
			for _, a := range actions {
				if a.Output != in.Index || a.Output < 0 {
					continue
				}
				layers[at] = true
				// The base: a real input, or an earlier action's, down to
				// a real input (or none: scratch).
				base, seen := a.Input, 0
				for base >= int64(len(op.Inputs)) && base-int64(len(op.Inputs)) < int64(len(actions)) && seen < len(actions) {
					base = actions[base-int64(len(op.Inputs))].Input
					seen++
				}
				if base >= 0 && base < int64(len(op.Inputs)) {
					walk(op.Inputs[base])
				}
			}
		case op.GetMerge() != nil:
			layers[at] = true
			for _, parent := range op.Inputs {
				walk(parent)
			}
		}
	}
	walk(last.Inputs[0])
	return layers, nil
}
