package kit

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/dockless/dockless/build"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"
)

// Solve builds req's Dockerfile with k, progress on out, and returns the
// image's ID (its config digest). load, when req.Load, receives the
// image as an OCI tar.
func (k *Kit) Solve(ctx context.Context, req build.Request, contextDir string, out io.Writer, load io.WriteCloser) (string, error) {
	opt, err := solveOpt(req, contextDir, load)
	if err != nil {
		return "", err
	}
	k.layers.enable(opt.Exports)
	mode := progressui.DisplayMode(req.Progress)
	if req.Progress == "" || req.Progress == "auto" {
		mode = progressui.AutoMode
	}
	if req.Progress == "quiet" {
		mode = progressui.QuietMode
	}
	display, err := progressui.NewDisplay(out, mode)
	if err != nil {
		return "", err
	}
	ch := make(chan *client.SolveStatus)
	var res *client.SolveResponse
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		res, err = k.client.Solve(ctx, nil, opt, ch)
		return err
	})
	eg.Go(func() error {
		_, err := display.UpdateFrom(context.WithoutCancel(ctx), ch)
		return err
	})
	if err := eg.Wait(); err != nil {
		return "", err
	}
	return res.ExporterResponse["containerimage.config.digest"], nil
}

// solveOpt is the Dockerfile frontend's request for req.
func solveOpt(req build.Request, contextDir string, load io.WriteCloser) (client.SolveOpt, error) {
	attrs, locals, err := contextAttrs(req, contextDir)
	if err != nil {
		return client.SolveOpt{}, err
	}
	if req.Target != "" {
		attrs["target"] = req.Target
	}
	if req.NoCache {
		attrs["no-cache"] = ""
	}
	if req.Pull {
		attrs["image-resolve-mode"] = "pull"
	}
	if req.Network == "none" {
		attrs["force-network-mode"] = "none"
	}
	for k, v := range req.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for k, v := range req.Labels {
		attrs["label:"+k] = v
	}
	exports, err := exports(req, load)
	if err != nil {
		return client.SolveOpt{}, err
	}
	attachables, err := attachables(req)
	if err != nil {
		return client.SolveOpt{}, err
	}
	var cacheFrom, cacheTo []client.CacheOptionsEntry
	for _, c := range req.CacheFrom {
		cacheFrom = append(cacheFrom, client.CacheOptionsEntry{Type: c["type"], Attrs: c})
	}
	for _, c := range req.CacheTo {
		cacheTo = append(cacheTo, client.CacheOptionsEntry{Type: c["type"], Attrs: c})
	}
	return client.SolveOpt{
		CacheImports:  cacheFrom,
		CacheExports:  cacheTo,
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   locals,
		Exports:       exports,
		Session:       attachables,
	}, nil
}

// attachables are what the build asks this process for, all as the
// caller: registry credentials (their docker config and helpers),
// --secret's files (read now) and values, --ssh's agents and keys.
func attachables(req build.Request) ([]session.Attachable, error) {
	cfg := config.LoadDefaultConfigFile(io.Discard)
	out := []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{AuthConfigProvider: authprovider.LoadAuthConfig(cfg)})}
	secrets := map[string][]byte{}
	for _, s := range req.Secrets {
		value := []byte(s.Value)
		if s.Src != "" {
			var err error
			if value, err = readSecret(s.Src); err != nil {
				return nil, fmt.Errorf("--secret id=%s: %w", s.ID, err)
			}
		}
		secrets[s.ID] = value
	}
	out = append(out, secretsprovider.FromMap(secrets))
	if len(req.SSH) > 0 {
		var confs []sshprovider.AgentConfig
		for _, s := range req.SSH {
			confs = append(confs, sshprovider.AgentConfig{ID: s.ID, Paths: s.Paths})
		}
		ssh, err := sshprovider.NewSSHAgentProvider(confs)
		if err != nil {
			return nil, fmt.Errorf("--ssh: %w", err)
		}
		out = append(out, ssh)
	}
	return out, nil
}

// readSecret reads a --secret file, at most BuildKit's bound on a secret.
func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, secretsprovider.MaxSecretSize+1))
	if err == nil && len(b) > secretsprovider.MaxSecretSize {
		err = fmt.Errorf("%s is larger than %d bytes", path, secretsprovider.MaxSecretSize)
	}
	return b, err
}

// contextAttrs are the frontend's attributes and local directories for
// req's context and Dockerfile: a URL context is the frontend's to fetch
// (git or http, in this process: as the caller), its Dockerfile a file in
// it; a directory is sent from here.
func contextAttrs(req build.Request, contextDir string) (map[string]string, map[string]fsutil.FS, error) {
	if _, remote := build.ContextURL(req.Context); remote {
		name := req.Dockerfile
		if name == "" {
			name = "Dockerfile"
		}
		return map[string]string{"context": req.Context, "filename": name}, nil, nil
	}
	dockerfile := req.Dockerfile
	if dockerfile == "" {
		dockerfile = filepath.Join(contextDir, "Dockerfile")
	}
	ctxFS, err := fsutil.NewFS(contextDir)
	if err != nil {
		return nil, nil, fmt.Errorf("build context %s: %w", contextDir, err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(dockerfile))
	if err != nil {
		return nil, nil, fmt.Errorf("Dockerfile %s: %w", dockerfile, err)
	}
	attrs := map[string]string{"filename": filepath.Base(dockerfile)}
	return attrs, map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS}, nil
}

// exports are BuildKit's exporters for req's outputs: the image (named by
// the tags, pushed with --push), --load's OCI tar, and each --output.
func exports(req build.Request, load io.WriteCloser) ([]client.ExportEntry, error) {
	var out []client.ExportEntry
	if len(req.Tags) > 0 || req.Push {
		attrs := map[string]string{"name": strings.Join(req.Tags, ",")}
		if req.Push {
			attrs["push"] = "true"
		}
		out = append(out, client.ExportEntry{Type: client.ExporterImage, Attrs: attrs})
	}
	if req.Load {
		out = append(out, client.ExportEntry{Type: client.ExporterOCI, Attrs: map[string]string{"name": strings.Join(req.Tags, ",")}, Output: func(map[string]string) (io.WriteCloser, error) { return load, nil }})
	}
	for _, o := range req.Outputs {
		e, err := output(o)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		// Kept in the build's cache only, for the image's ID (-q, --iidfile).
		out = append(out, client.ExportEntry{Type: client.ExporterImage, Attrs: map[string]string{}})
	}
	return out, nil
}

// output is one --output entry: type=oci|local|image with dest (a file or
// directory the caller may write, or "-" for stdout with oci).
func output(o map[string]string) (client.ExportEntry, error) {
	attrs := map[string]string{}
	for k, v := range o {
		if k != "type" && k != "dest" {
			attrs[k] = v
		}
	}
	dest := o["dest"]
	switch o["type"] {
	case "local":
		if dest == "" {
			return client.ExportEntry{}, fmt.Errorf("--output type=local needs dest=DIRECTORY")
		}
		return client.ExportEntry{Type: client.ExporterLocal, OutputDir: dest, Attrs: attrs}, nil
	case "oci", "tar":
		typ := client.ExporterOCI
		if o["type"] == "tar" {
			typ = client.ExporterTar
		}
		return client.ExportEntry{Type: typ, Attrs: attrs, Output: func(map[string]string) (io.WriteCloser, error) {
			if dest == "" || dest == "-" {
				return os.Stdout, nil
			}
			return os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		}}, nil
	case "image", "registry":
		if o["type"] == "registry" {
			attrs["push"] = "true"
		}
		return client.ExportEntry{Type: client.ExporterImage, Attrs: attrs}, nil
	}
	return client.ExportEntry{}, fmt.Errorf("--output type=%s: not supported (oci, tar, local, image, registry)", o["type"])
}
