package spec

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNoCommand means neither the caller nor the image named a command.
var ErrNoCommand = errors.New("no command specified: the image has no ENTRYPOINT or CMD and none was given")

// Args returns the process argv the way docker computes it from the image
// config and the request: an --entrypoint replaces the image ENTRYPOINT and
// drops the image CMD; a command replaces the image CMD.
func Args(img ocispec.ImageConfig, entrypoint []string, entrypointSet bool, cmd []string) ([]string, error) {
	ep, c := img.Entrypoint, img.Cmd
	if entrypointSet {
		ep, c = entrypoint, nil
	}
	if len(cmd) > 0 {
		c = cmd
	}
	args := append(append([]string(nil), ep...), c...)
	if len(args) == 0 {
		return nil, ErrNoCommand
	}
	return args, nil
}

// WithArgs sets the process argv.
func WithArgs(args []string) Opt {
	return func(s *specs.Spec) error {
		setProcess(s).Args = append([]string(nil), args...)
		return nil
	}
}

// WithEnv sets KEY=VALUE pairs over the environment, replacing an existing
// value of the same key in place and appending new keys in order; a bare
// KEY removes KEY, as docker does with -e KEY when its caller has no KEY.
func WithEnv(env []string) Opt {
	return func(s *specs.Spec) error {
		p := setProcess(s)
	next:
		for _, kv := range env {
			key, _, ok := strings.Cut(kv, "=")
			if key == "" {
				return errors.New("invalid environment entry " + strconv.Quote(kv) + ": want KEY=VALUE or KEY")
			}
			if !ok {
				p.Env = slices.DeleteFunc(p.Env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
				continue
			}
			for i, e := range p.Env {
				if k, _, _ := strings.Cut(e, "="); k == key {
					p.Env[i] = kv
					continue next
				}
			}
			p.Env = append(p.Env, kv)
		}
		return nil
	}
}

// WithDefaultEnv sets KEY=VALUE only where KEY is not set yet.
func WithDefaultEnv(kv string) Opt {
	return func(s *specs.Spec) error {
		p := setProcess(s)
		key, _, _ := strings.Cut(kv, "=")
		for _, e := range p.Env {
			if k, _, _ := strings.Cut(e, "="); k == key {
				return nil
			}
		}
		p.Env = append(p.Env, kv)
		return nil
	}
}

// WithCwd sets the working directory ("/" when empty, as docker does).
func WithCwd(dir string) Opt {
	return func(s *specs.Spec) error {
		if dir == "" {
			dir = "/"
		}
		if _, err := ParseWorkdir(dir); err != nil {
			return err
		}
		setProcess(s).Cwd = dir
		return nil
	}
}

// WithHostname sets the UTS host name and $HOSTNAME.
func WithHostname(name string) Opt {
	return func(s *specs.Spec) error {
		s.Hostname = name
		return WithDefaultEnv("HOSTNAME=" + name)(s)
	}
}

// WithAnnotations adds annotations to the spec's.
func WithAnnotations(a map[string]string) Opt {
	return func(s *specs.Spec) error {
		for k, v := range a {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[k] = v
		}
		return nil
	}
}

// WithUser sets the process identity. $HOME is left to the runtime, which
// takes it from the container's /etc/passwd when the environment has none
// (as docker leaves it).
func WithUser(u specs.User) Opt {
	return func(s *specs.Spec) error {
		setProcess(s).User = u
		return nil
	}
}

// WithTTY gives the process a pseudo-terminal and, like docker, TERM=xterm.
func WithTTY(tty bool) Opt {
	return func(s *specs.Spec) error {
		setProcess(s).Terminal = tty
		if !tty {
			return nil
		}
		return WithDefaultEnv("TERM=xterm")(s)
	}
}

// WithRlimits sets process resource limits, replacing limits of the same type.
func WithRlimits(limits []specs.POSIXRlimit) Opt {
	return func(s *specs.Spec) error {
		p := setProcess(s)
	next:
		for _, l := range limits {
			for i := range p.Rlimits {
				if p.Rlimits[i].Type == l.Type {
					p.Rlimits[i] = l
					continue next
				}
			}
			p.Rlimits = append(p.Rlimits, l)
		}
		return nil
	}
}

// WithOOMScoreAdj sets the process's OOM score adjustment (docker's
// --oom-score-adj); nil leaves the one dockless inherited (the job's).
func WithOOMScoreAdj(adj *int) Opt {
	return func(s *specs.Spec) error {
		if adj == nil {
			return nil
		}
		if _, err := ParseOOMScoreAdj(*adj); err != nil {
			return fmt.Errorf("--oom-score-adj %d: %w", *adj, err)
		}
		v := *adj
		setProcess(s).OOMScoreAdj = &v
		return nil
	}
}

// WithPathAppend appends dirs to PATH (setting PATH from DefaultPath when
// unset), skipping those already in it.
func WithPathAppend(dirs []string) Opt {
	return func(s *specs.Spec) error {
		if len(dirs) == 0 {
			return nil
		}
		p := setProcess(s)
		idx := -1
		for i, e := range p.Env {
			if strings.HasPrefix(e, "PATH=") {
				idx = i
			}
		}
		if idx < 0 {
			p.Env = append(p.Env, "PATH="+DefaultPath)
			idx = len(p.Env) - 1
		}
		parts := strings.Split(strings.TrimPrefix(p.Env[idx], "PATH="), ":")
		for _, d := range dirs {
			if d != "" && !slices.Contains(parts, d) {
				parts = append(parts, d)
			}
		}
		p.Env[idx] = "PATH=" + strings.Join(parts, ":")
		return nil
	}
}
