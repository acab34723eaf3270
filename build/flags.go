package build

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ParseSecret reads docker build's --secret value,
// [type=file|env,]id=ID[,src|source=FILE][,env=VAR]: a file (made
// absolute), or the value of the caller's variable (lookup; without env=
// and src=, the ID's). A file without an ID is named by its base name.
func ParseSecret(v string, lookup func(string) (string, bool)) (Secret, error) {
	var s Secret
	kv := map[string]string{}
	for _, f := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(f, "=")
		if !ok || val == "" {
			return s, fmt.Errorf("--secret %q: want id=ID,src=FILE or id=ID,env=VARIABLE", v)
		}
		kv[strings.ToLower(k)] = val
	}
	if kv["src"] == "" {
		kv["src"] = kv["source"]
	}
	s.ID = kv["id"]
	switch {
	case kv["type"] == "env" || kv["env"] != "" || kv["type"] == "" && kv["src"] == "":
		name := kv["env"]
		if name == "" {
			name = s.ID
		}
		val, ok := lookup(name)
		if !ok || s.ID == "" {
			return s, fmt.Errorf("--secret %q: the variable %q is not set (or no id=)", v, name)
		}
		s.Value = val
	case kv["src"] != "" && (kv["type"] == "" || kv["type"] == "file"):
		s.Src, _ = filepath.Abs(kv["src"])
		if s.ID == "" {
			s.ID = filepath.Base(s.Src)
		}
	default:
		return s, fmt.Errorf("--secret %q: want id=ID,src=FILE or id=ID,env=VARIABLE", v)
	}
	return s, nil
}

// ParseSSH reads docker build's --ssh value, default|ID[=SOCKET|KEY[,KEY…]]:
// without paths, the caller's agent (their SSH_AUTH_SOCK, from lookup).
func ParseSSH(v string, lookup func(string) (string, bool)) (SSH, error) {
	id, paths, _ := strings.Cut(v, "=")
	s := SSH{ID: id}
	if id == "" {
		return s, fmt.Errorf("--ssh %q: want default or ID[=SOCKET|KEY[,KEY]]", v)
	}
	if paths == "" {
		sock, ok := lookup("SSH_AUTH_SOCK")
		if !ok || sock == "" {
			return s, fmt.Errorf("--ssh %s: SSH_AUTH_SOCK is not set: start an agent (eval $(ssh-agent); ssh-add), or name a key: --ssh %s=$HOME/.ssh/id_ed25519", id, id)
		}
		paths = sock
	}
	for _, p := range strings.Split(paths, ",") {
		abs, err := filepath.Abs(p)
		if err != nil {
			return s, fmt.Errorf("--ssh %s: %s: %w (name it by an absolute path)", id, p, err)
		}
		s.Paths = append(s.Paths, abs)
	}
	return s, nil
}

// ParseCache reads docker build's --cache-from (to false) or --cache-to
// (to true) value: type=local,src|dest=DIR (made absolute),
// type=registry,ref=REF, type=inline (--cache-to), or a bare REF for
// type=registry, each with BuildKit's other keys (mode=max, tag=…).
func ParseCache(v string, to bool) (map[string]string, error) {
	flag, dir := "--cache-from", "src"
	if to {
		flag, dir = "--cache-to", "dest"
	}
	m := map[string]string{}
	if !strings.Contains(v, "=") {
		v = "type=registry,ref=" + v
	}
	for _, f := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(f, "=")
		if !ok || val == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE entries", flag, v)
		}
		m[k] = val
	}
	switch {
	case m["type"] == "local" && m[dir] != "":
		m[dir], _ = filepath.Abs(m[dir])
	case m["type"] == "registry" && m["ref"] != "":
	case m["type"] == "inline" && to:
	default:
		return nil, fmt.Errorf("%s %q: want type=local,%s=DIR or type=registry,ref=REF (or type=inline with --cache-to); other cache types are not supported", flag, v, dir)
	}
	return m, nil
}
