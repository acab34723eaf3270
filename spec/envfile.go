package spec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseEnvFile reads a docker --env-file: one VAR=value per line, the value
// taken verbatim (no quote removal); blank lines and lines starting with #
// are skipped; a bare VAR takes its value from lookup and is left out when
// lookup has none. Names may not contain white space.
func ParseEnvFile(r io.Reader, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		if n == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		if !utf8.Valid(raw) {
			return nil, fmt.Errorf("line %d: invalid UTF-8", n)
		}
		line := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, hasValue := strings.Cut(line, "=")
		if key == "" {
			return nil, fmt.Errorf("line %d: no variable name before '='", n)
		}
		if strings.ContainsFunc(key, unicode.IsSpace) {
			return nil, fmt.Errorf("line %d: variable %q contains white space", n, key)
		}
		if !hasValue {
			v, ok := lookup(key)
			if !ok {
				continue
			}
			value = v
		}
		out = append(out, key+"="+value)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
