package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// splitAttached rewrites the flags of `run` and `exec` the way docker's
// parser (pflag) reads them and urfave/cli does not: a value attached to
// its short flag (-eK=V, -ualice, -m64m, -v/a:/b, -e=K=V) and a run of
// boolean flags ending in one that takes a value (-ite K=V, -itv/a:/b)
// become separate words, and every flag is spelled by its first name
// (-e and --env are both --env), so that urfave/cli takes one flag given
// in two spellings (-e A --env B). Global flags before the command, and
// everything from the command's first argument (the image, the
// container) on, are left alone.
func splitAttached(app *cli.App, args []string) []string {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if takesValue(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || (cmd.Name != "run" && cmd.Name != "exec") {
		return args
	}
	out := append([]string(nil), args[:i+1]...)
	for j := i + 1; j < len(args); j++ {
		a := args[j]
		switch {
		case a == "--" || !strings.HasPrefix(a, "-") || a == "-":
			return append(out, args[j:]...)
		case strings.HasPrefix(a, "--"):
			out = append(out, canonical(cmd.Flags, a))
			if takesValue(cmd.Flags, a) && j+1 < len(args) {
				j++
				out = append(out, args[j])
			}
		default:
			words, needsNext := splitShort(cmd.Flags, a)
			out = append(out, words...)
			if needsNext && j+1 < len(args) {
				j++
				out = append(out, args[j])
			}
		}
	}
	return out
}

// splitShort splits one word of short flags (-abc) as pflag reads it:
// booleans up to the first flag that takes a value, which takes the rest
// of the word (after an optional "=") or, when nothing is left, the next
// word (needsNext). A word with a letter no flag has is left whole, for
// urfave/cli to report.
func splitShort(flags []cli.Flag, word string) (out []string, needsNext bool) {
	letters := word[1:]
	for k := 0; k < len(letters); k++ {
		f := shortFlag(flags, letters[k])
		if f == nil {
			return []string{word}, false
		}
		out = append(out, "--"+f.Names()[0])
		if _, isBool := f.(*cli.BoolFlag); isBool {
			continue
		}
		rest := strings.TrimPrefix(letters[k+1:], "=")
		if rest == "" {
			return out, true
		}
		return append(out, rest), false
	}
	return out, false
}

// shortFlag is the flag whose one-letter name is c.
func shortFlag(flags []cli.Flag, c byte) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) == 1 && n[0] == c {
				return f
			}
		}
	}
	return nil
}

// canonical spells the long flag word (--name or --name=value) by the
// first name of its flag; a word no flag has is left as it is.
func canonical(flags []cli.Flag, word string) string {
	name, value, hasValue := strings.Cut(strings.TrimPrefix(word, "--"), "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				name = f.Names()[0]
				if hasValue {
					return "--" + name + "=" + value
				}
				return "--" + name
			}
		}
	}
	return word
}

// takesValue reports whether word (--name, --name=v, -n) is a flag of
// flags that takes its value from the next word.
func takesValue(flags []cli.Flag, word string) bool {
	name := strings.TrimLeft(word, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
