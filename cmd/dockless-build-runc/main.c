/*
 * dockless-build-runc: the program BuildKit runs a build's RUN steps with.
 * dockless-build starts BuildKit with it in place of the policy's [build]
 * runtime, which it names in DOCKLESS_BUILD_RUNTIME, and this program
 * executes that runtime in its own place (the same process: BuildKit's
 * signals and waits reach the runtime), with BuildKit's arguments and two
 * changes that make a step cheaper without changing what runs in it
 * (docs/BENCHMARKS.md, issue 15):
 *
 * - run and create: the bundle's seccomp profile, a profile for x86_64,
 *   loses the architectures DOCKLESS_BUILD_DEAD_ARCHS names (a comma list:
 *   those this kernel runs no system call of, which dockless-build asks
 *   package runtime/deadarch), as a job container's profile does.
 *   BuildKit sets docker's profile, and libseccomp compiled its x86 and x32
 *   sections in every step's init (~15 ms a step here).
 * - run --keep: BuildKit keeps each step's container after its exit, to
 *   read the step's cgroup, which it does only for a step with a cgroup
 *   path; a rootless step of dockless has none, and BuildKit then deletes
 *   the kept container with a second execution of the runtime (~17 ms).
 *   Without --keep the runtime removes the container itself when the
 *   step's process exits, and "delete ID" of a container whose state
 *   directory is gone succeeds here without executing the runtime.
 *
 * The runtime's state root is given to it explicitly (--root), where runc
 * chose it before: $XDG_RUNTIME_DIR/runc, which dockless-build makes in the
 * build's state; without either, --keep and delete are left alone. Any
 * other call (kill, state, exec, a delete of a container still there) goes
 * to the runtime unchanged. A bundle config it cannot read, parse or
 * replace is left as it is, for the runtime to judge.
 *
 * It is C, built static (make build), because it runs twice per RUN step:
 * it starts in about a millisecond, a Go program in about five here.
 * Tests: cmd/dockless-build-runc/shim_test.go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONFIG (16 << 20) /* a bundle config larger is left alone */
#define MAX_DEPTH 256         /* nesting the scanner follows */

static const char *global_value_flags[] = {"log", "log-format", "root", "criu", "rootless", NULL};
static const char *command_value_flags[] = {"bundle", "b", "console-socket", "pid-file", "preserve-fds", "pidfd-socket", NULL};

/* flag_name is arg's name without its dashes and "=value" (in buf), or
 * NULL for an argument that is not a flag. */
static const char *flag_name(const char *arg, char *buf, size_t size)
{
	size_t n;

	if (arg[0] != '-' || arg[1] == '\0')
		return NULL;
	arg += arg[1] == '-' ? 2 : 1;
	n = strcspn(arg, "=");
	if (n >= size)
		n = size - 1;
	memcpy(buf, arg, n);
	buf[n] = '\0';
	return buf;
}

static int listed(const char *name, const char **list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

/* positional is the index of a verb's first argument that is not a flag
 * (argc for none). */
static int positional(int argc, char **argv)
{
	char buf[64];
	const char *name;
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		if (!(name = flag_name(argv[i], buf, sizeof buf)))
			return i;
		if (!strchr(argv[i], '=') && listed(name, command_value_flags))
			i++;
	}
	return argc;
}

/* flag_at is the index of the flag named name among a verb's flags (the
 * last, which is the one runc takes), or -1. */
static int flag_at(int argc, char **argv, const char *name)
{
	char buf[64];
	const char *n;
	int i, at = -1, end = positional(argc, argv);

	for (i = 0; i < end && i < argc; i++) {
		if (!(n = flag_name(argv[i], buf, sizeof buf)))
			continue;
		if (strcmp(n, name) == 0)
			at = i;
		if (!strchr(argv[i], '=') && listed(n, command_value_flags))
			i++;
	}
	return at;
}

/* flag_value is the value of a verb's flag at index i. */
static const char *flag_value(int argc, char **argv, int i)
{
	const char *eq = strchr(argv[i], '=');

	if (eq)
		return eq + 1;
	return i + 1 < argc ? argv[i + 1] : NULL;
}

/* valid_id reports whether id is a container ID runc takes, and names no
 * directory but its own. */
static int valid_id(const char *id)
{
	const char *p;

	if (!*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return 0;
	for (p = id; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
		      *p == '_' || *p == '+' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* The scanner: just enough JSON to find linux.seccomp.architectures in a
 * config and to step over everything else. Every function returns 0 on a
 * malformed document, which is then left alone. */
struct scan {
	const char *p, *end;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* string steps over the string at s->p; *raw and *len are its contents,
 * escapes unresolved. */
static int string(struct scan *s, const char **raw, size_t *len)
{
	if (s->p >= s->end || *s->p != '"')
		return 0;
	*raw = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		if ((unsigned char)*s->p < 0x20)
			return 0;
		if (*s->p == '\\' && ++s->p >= s->end)
			return 0;
		s->p++;
	}
	if (s->p >= s->end)
		return 0;
	*len = (size_t)(s->p - *raw);
	s->p++;
	return 1;
}

static int value(struct scan *s, int depth);

/* key steps over an object member's name and its colon. */
static int key(struct scan *s, const char **raw, size_t *len)
{
	if (!string(s, raw, len))
		return 0;
	ws(s);
	if (s->p >= s->end || *s->p++ != ':')
		return 0;
	ws(s);
	return 1;
}

/* members steps over the members of the object or array at s->p (close
 * is '}' or ']'). */
static int members(struct scan *s, char close, int depth)
{
	const char *raw;
	size_t len;

	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 1;
	}
	for (;;) {
		if (close == '}' && !key(s, &raw, &len))
			return 0;
		if (!value(s, depth + 1))
			return 0;
		ws(s);
		if (s->p >= s->end)
			return 0;
		if (*s->p == close) {
			s->p++;
			return 1;
		}
		if (*s->p++ != ',')
			return 0;
		ws(s);
	}
}

/* value steps over the value at s->p. */
static int value(struct scan *s, int depth)
{
	const char *raw;
	size_t len;

	if (depth > MAX_DEPTH || s->p >= s->end)
		return 0;
	switch (*s->p) {
	case '{':
		return members(s, '}', depth);
	case '[':
		return members(s, ']', depth);
	case '"':
		return string(s, &raw, &len);
	default:
		/* a number, true, false or null */
		raw = s->p;
		while (s->p < s->end && *s->p && strchr("+-.0123456789eEtrufalsn", *s->p))
			s->p++;
		return s->p > raw;
	}
}

/* member leaves s->p at the value of the object's member named name (the
 * object at s->p), and reports whether there is one. */
static int member(struct scan *s, const char *name)
{
	const char *raw;
	size_t len;

	ws(s);
	if (s->p >= s->end || *s->p != '{')
		return 0;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}')
		return 0;
	for (;;) {
		if (!key(s, &raw, &len))
			return 0;
		if (len == strlen(name) && memcmp(raw, name, len) == 0)
			return 1;
		if (!value(s, 1))
			return 0;
		ws(s);
		if (s->p >= s->end || *s->p++ != ',')
			return 0;
		ws(s);
	}
}

/* dead reports whether the architecture named raw[0:len] is in the comma
 * list archs. */
static int dead(const char *raw, size_t len, const char *archs)
{
	const char *p = archs;
	size_t n;

	while (*p) {
		n = strcspn(p, ",");
		if (n == len && memcmp(p, raw, len) == 0)
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* replace writes buf over the file at path, by a rename: the file is the
 * old config or the new, whole. */
static int replace(const char *path, const char *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1, fd, ok;
	size_t off = 0;
	ssize_t n;

	if (snprintf(tmp, sizeof tmp, "%.*s/.config-XXXXXX", dirlen, slash ? path : ".") >= (int)sizeof tmp)
		return 0;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return 0;
	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	ok = off == len && fchmod(fd, mode & 07777) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
	if (!ok)
		unlink(tmp);
	return ok;
}

/* drop_archs leaves the architectures in the comma list archs out of the
 * seccomp profile of the config at path, where it is a profile for x86_64;
 * every other byte of the config stays as it was. */
static void drop_archs(const char *path, const char *archs)
{
	struct stat st;
	struct scan s;
	char *buf = NULL, *out = NULL;
	const char *start, *raw;
	size_t len, olen, kept = 0, total = 0;
	int fd, native = 0, native_here;
	char extra;
	ssize_t n;

	if (!archs || !*archs || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > MAX_CONFIG ||
	    !(buf = malloc((size_t)st.st_size))) {
		close(fd);
		return;
	}
	for (len = 0; len < (size_t)st.st_size; len += (size_t)n) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	/* a config that grew while read is left alone */
	if (len != (size_t)st.st_size || read(fd, &extra, 1) != 0) {
		close(fd);
		goto out;
	}
	close(fd);
	s.p = buf;
	s.end = buf + len;
	if (!member(&s, "linux") || !member(&s, "seccomp") || !member(&s, "architectures"))
		goto out;
	if (s.p >= s.end || *s.p != '[' || !(out = malloc(len)))
		goto out;
	/* out: everything before the array, then its kept elements */
	start = s.p;
	olen = (size_t)(start - buf);
	memcpy(out, buf, olen);
	out[olen++] = '[';
	s.p++;
	ws(&s);
	if (s.p < s.end && *s.p == ']')
		goto out;
	for (;;) {
		if (!string(&s, &raw, &len))
			goto out;
		total++;
		native_here = len == strlen("SCMP_ARCH_X86_64") && memcmp(raw, "SCMP_ARCH_X86_64", len) == 0;
		native |= native_here;
		if (native_here || !dead(raw, len, archs)) {
			if (kept++)
				out[olen++] = ',';
			memcpy(out + olen, raw - 1, len + 2);
			olen += len + 2;
		}
		ws(&s);
		if (s.p >= s.end)
			goto out;
		if (*s.p == ']')
			break;
		if (*s.p++ != ',')
			goto out;
		ws(&s);
	}
	s.p++;
	if (!native || kept == total)
		goto out;
	out[olen++] = ']';
	memcpy(out + olen, s.p, (size_t)(s.end - s.p));
	olen += (size_t)(s.end - s.p);
	replace(path, out, olen, st.st_mode);
out:
	free(out);
	free(buf);
}

int main(int argc, char **argv)
{
	const char *runtime = getenv("DOCKLESS_BUILD_RUNTIME"), *xdg = getenv("XDG_RUNTIME_DIR");
	const char *root = NULL, *name, *bundle;
	char rootbuf[PATH_MAX], path[PATH_MAX], buf[64];
	char **args;
	int i, n = 0, verb = -1, k, rest, given;
	struct stat st;

	if (!runtime || runtime[0] != '/') {
		fprintf(stderr, "dockless-build-runc: DOCKLESS_BUILD_RUNTIME is \"%s\", not an absolute path: this program runs "
				"a build's RUN steps for dockless-build, which names the runtime there\n",
			runtime ? runtime : "");
		return 127;
	}
	if (!(args = calloc((size_t)argc + 3, sizeof *args)))
		return 127;
	args[n++] = (char *)runtime;
	/* the global flags, and --root among them */
	for (i = 1; i < argc; i++) {
		if (!(name = flag_name(argv[i], buf, sizeof buf))) {
			verb = i;
			break;
		}
		if (!strchr(argv[i], '=') && listed(name, global_value_flags) && i + 1 < argc) {
			if (strcmp(name, "root") == 0)
				root = argv[i + 1];
			i++;
		} else if (strcmp(name, "root") == 0 && strchr(argv[i], '=')) {
			root = strchr(argv[i], '=') + 1;
		}
	}
	given = root != NULL;
	if (given && !*root)
		root = NULL; /* the runtime's own choice: --keep and delete are left alone */
	if (verb > 0 && !given && xdg && xdg[0] == '/' &&
	    snprintf(rootbuf, sizeof rootbuf, "%s/runc", xdg) < (int)sizeof rootbuf) {
		root = rootbuf;
		args[n++] = "--root";
		args[n++] = rootbuf;
	}
	for (i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	if (verb > 0) {
		rest = verb + 1;
		if (strcmp(argv[verb], "run") == 0 || strcmp(argv[verb], "create") == 0) {
			k = flag_at(argc - rest, argv + rest, "bundle");
			if (k < 0)
				k = flag_at(argc - rest, argv + rest, "b");
			bundle = k < 0 ? "." : flag_value(argc - rest, argv + rest, k);
			if (bundle && snprintf(path, sizeof path, "%s/config.json", bundle) < (int)sizeof path)
				drop_archs(path, getenv("DOCKLESS_BUILD_DEAD_ARCHS"));
			k = flag_at(argc - rest, argv + rest, "keep");
			if (strcmp(argv[verb], "run") == 0 && root && k >= 0 && strcmp(argv[rest + k], "--keep") == 0 &&
			    flag_at(argc - rest, argv + rest, "detach") < 0 && flag_at(argc - rest, argv + rest, "d") < 0) {
				/* args holds argv[i] at i + n - argc */
				k = rest + k + (n - argc);
				memmove(args + k, args + k + 1, (size_t)(n - k) * sizeof *args);
				n--;
			}
		} else if (strcmp(argv[verb], "delete") == 0 && root && argc - rest == 1 && valid_id(argv[rest]) &&
			   snprintf(path, sizeof path, "%s/%s", root, argv[rest]) < (int)sizeof path &&
			   lstat(path, &st) < 0 && errno == ENOENT) {
			return 0;
		}
	}
	execv(runtime, args);
	fprintf(stderr, "dockless-build-runc: executing %s: %s\n", runtime, strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
