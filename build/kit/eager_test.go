package kit

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver"
	"github.com/moby/buildkit/solver/llbsolver"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// TestLayersOf_TheResultsChainOnly: the layers of a definition's result
// are the results along its chain (exec mounts, file bases, merges),
// never a stage only copied from, nor a source.
func TestLayersOf_TheResultsChainOnly(t *testing.T) {
	ctx := context.Background()
	context := llb.Local("context")
	base := llb.Scratch().File(llb.Copy(context, "busybox", "/bin/busybox"), llb.WithCustomName("base copy"))
	builder := base.Run(llb.Args([]string{"/bin/busybox", "builder"})).Root()
	for _, tc := range []struct {
		name   string
		result llb.State
		want   []string
	}{
		{"one stage: every step", base.Run(llb.Args([]string{"/bin/busybox", "install"})).Root().
			File(llb.Mkdir("/work", 0o755)).Run(llb.Args([]string{"/bin/busybox", "last"})).Root(),
			[]string{"copy busybox", "exec install", "exec last", "mkdir /work"}},
		{"a stage only copied from is no layer", llb.Scratch().File(llb.Copy(builder, "/big", "/big")).
			Run(llb.Args([]string{"/bin/busybox", "final"})).Root(),
			[]string{"copy big", "exec final"}},
		{"FROM an earlier stage: its steps are layers", builder.Run(llb.Args([]string{"/bin/busybox", "final"})).Root(),
			[]string{"copy busybox", "exec builder", "exec final"}},
		{"COPY --link: both sides of the merge", llb.Merge([]llb.State{base, llb.Scratch().File(llb.Copy(builder, "/big", "/big"))}).
			Run(llb.Args([]string{"/bin/busybox", "final"})).Root(),
			[]string{"copy big", "copy busybox", "exec final", "merge"}},
		{"a source alone has none", context, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def, err := tc.result.Marshal(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pbdef := def.ToPB()
			layers, err := layersOf(pbdef)
			if err != nil {
				t.Fatal(err)
			}
			ops := map[digest.Digest]*pb.Op{}
			for _, dt := range pbdef.Def {
				var op pb.Op
				if err := op.Unmarshal(dt); err != nil {
					t.Fatal(err)
				}
				ops[digest.FromBytes(dt)] = &op
			}
			var got []string
			for l := range layers {
				got = append(got, describe(ops[l.vertex]))
			}
			sort.Strings(got)
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("layers %q, want %q", got, tc.want)
			}
		})
	}
}

// describe names an operation of the tests' definitions.
func describe(op *pb.Op) string {
	switch {
	case op == nil:
		return "none"
	case op.GetExec() != nil:
		return "exec " + op.GetExec().Meta.Args[1]
	case op.GetFile() != nil:
		a := op.GetFile().Actions[0]
		if c := a.GetCopy(); c != nil {
			return "copy " + strings.TrimPrefix(c.Src, "/")
		}
		if m := a.GetMkdir(); m != nil {
			return "mkdir " + m.Path
		}
	case op.GetMerge() != nil:
		return "merge"
	case op.GetSource() != nil:
		return "source " + op.GetSource().Identifier
	}
	return "other"
}

// TestNeedsBlobs_OnlyExportsOfDefaultBlobs: layers are compressed early
// only for exports that all take them as the exporter would make them.
func TestNeedsBlobs_OnlyExportsOfDefaultBlobs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		exports []client.ExportEntry
		want    bool
	}{
		{"none", nil, false},
		{"an OCI tar", []client.ExportEntry{{Type: client.ExporterOCI}}, true},
		{"an image pushed and a docker tar", []client.ExportEntry{{Type: client.ExporterImage, Attrs: map[string]string{"push": "true"}}, {Type: client.ExporterDocker}}, true},
		{"files", []client.ExportEntry{{Type: client.ExporterLocal}}, false},
		{"an image and files", []client.ExportEntry{{Type: client.ExporterImage}, {Type: client.ExporterTar}}, false},
		{"zstd", []client.ExportEntry{{Type: client.ExporterOCI, Attrs: map[string]string{"compression": "zstd"}}}, false},
		{"another gzip level", []client.ExportEntry{{Type: client.ExporterImage, Attrs: map[string]string{"compression-level": "9"}}}, false},
	} {
		if got := needsBlobs(tc.exports); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestLayersOf_NamesTheSolversVertices: the layers are named by the
// digests BuildKit's solver gives the vertices it resolves (llbsolver.Load,
// as a build loads a frontend's definition), so the file operations find
// them; with --no-cache's metadata too.
func TestLayersOf_NamesTheSolversVertices(t *testing.T) {
	ctx := context.Background()
	base := llb.Scratch().File(llb.Copy(llb.Local("context"), "busybox", "/bin/busybox"))
	result := base.Run(llb.Args([]string{"/bin/busybox", "install"}), llb.IgnoreCache).Root().
		File(llb.Mkdir("/work", 0o755)).Run(llb.Args([]string{"/bin/busybox", "last"})).Root()
	def, err := result.Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := layersOf(def.ToPB())
	if err != nil {
		t.Fatal(err)
	}
	edge, err := llbsolver.Load(ctx, def.ToPB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	loaded := map[vertexOutput]bool{}
	var walk func(e solver.Edge)
	walk = func(e solver.Edge) {
		loaded[vertexOutput{e.Vertex.Digest(), int64(e.Index)}] = true
		for _, in := range e.Vertex.Inputs() {
			walk(in)
		}
	}
	walk(edge)
	if len(layers) != 4 {
		t.Fatalf("%d layers, want 4", len(layers))
	}
	for l := range layers {
		if !loaded[l] {
			t.Errorf("layer %s:%d is no vertex output the solver loads", l.vertex, l.index)
		}
	}
}
