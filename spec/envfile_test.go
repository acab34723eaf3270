package spec

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseEnvFile_DockerFormat(t *testing.T) {
	lookup := func(k string) (string, bool) {
		if k == "FROM_HOST" {
			return "host value", true
		}
		return "", false
	}
	for _, tc := range []struct {
		name, in string
		want     []string
		errMsg   string
	}{
		{"values verbatim, quotes kept", "A=1\nB=\"quoted\"\nC=has=equals\n", []string{"A=1", "B=\"quoted\"", "C=has=equals"}, ""},
		{"comments, blanks and leading space", "# c\n\n   D=4\n\t# also\n", []string{"D=4"}, ""},
		{"bare name from the environment", "FROM_HOST\nUNSET\n", []string{"FROM_HOST=host value"}, ""},
		{"byte order mark", "\ufeffE=5", []string{"E=5"}, ""},
		{"empty value", "F=\n", []string{"F="}, ""},
		{"space in a name", "BAD NAME=1\n", nil, "white space"},
		{"no name", "=x\n", nil, "no variable name"},
		{"invalid utf-8", "G=\xff\n", nil, "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnvFile(strings.NewReader(tc.in), lookup)
			if tc.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
					t.Fatalf("want error %q, got %v", tc.errMsg, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("want %q, got %q (%v)", tc.want, got, err)
			}
		})
	}
}

// FuzzParseEnvFile: any input either fails cleanly or yields KEY=VALUE
// entries whose keys are non-empty and free of white space, which WithEnv
// accepts.
func FuzzParseEnvFile(f *testing.F) {
	for _, seed := range []string{"A=1\n", "# x\n B=2", "\ufeffC", "D=\"e\"\r\n", "=", "X Y=1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		vars, err := ParseEnvFile(strings.NewReader(in), func(string) (string, bool) { return "v", true })
		if err != nil {
			return
		}
		for _, kv := range vars {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.ContainsAny(k, " \t\n\r\v\f") {
				t.Fatalf("bad entry %q from %q", kv, in)
			}
		}
		if _, err := New(WithEnv(vars)); err != nil {
			t.Fatalf("WithEnv refused parsed entries %q: %v", vars, err)
		}
	})
}
