/*
 * dockless-init: the init of containers started with --init, as docker's
 * tini. dockless binds it read-only, without set-id bits, at
 * /sbin/docker-init and runs the container's command as
 * "/sbin/docker-init -- COMMAND [ARG...]".
 *
 * As PID 1 it starts the command as its child, in a process group of its
 * own that owns the terminal if there is one; forwards every signal it
 * gets to the command (a PID 1 without a handler would ignore them); reaps
 * every process that ends in the container (a subreaper where it is not
 * PID 1, as tini -s); and exits with the command's
 * status (128+N when signal N ended it) once the command is gone, which
 * ends the container. A command it cannot start exits 127 (not found) or
 * 126 (not executable), as tini's.
 *
 * "docker-init --hold" is the holder of a container several processes
 * join (the per-host container of an LSF parallel job, dockless lsf task):
 * it runs nothing, reaps every process that ends in the container, and
 * exits on SIGTERM, SIGINT or SIGHUP (dockless removes the container with
 * SIGKILL once its last member left).
 *
 * "docker-init --seccomp FLAGS PROGRAM CAPS -- COMMAND [ARG...]" is the seccomp
 * loader of job containers (loader.c): it loads a filter dockless compiled
 * once, and executes COMMAND in its place.
 *
 * It is C, built static and single-threaded (make build): it runs on the
 * image's filesystem, where the host's loader and libraries are not, and
 * it must not spend the container's --pids-limit on threads of its own.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loader.h"

/* synchronous signals stay the init's own; the terminal's stops are not
 * forwarded (tini's choice) */
static const int kept[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU};

/* start runs argv in a child, in its own process group in the terminal's
 * foreground; the child gets the signal mask the init started with. */
static pid_t start(char **argv, const sigset_t *orig)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	setpgid(0, 0);
	if (isatty(STDIN_FILENO))
		tcsetpgrp(STDIN_FILENO, getpgrp()); /* SIGTTOU is still blocked */
	sigprocmask(SIG_SETMASK, orig, NULL);
	execvp(argv[0], argv);
	int err = errno;
	fprintf(stderr, "docker-init: exec %s failed: %s\n", argv[0], strerror(err));
	_exit(exit_code(err, 1));
}

/* hold waits for the container's end, reaping what ends in it. */
static int hold(void)
{
	sigset_t wait_for;
	sigemptyset(&wait_for);
	sigaddset(&wait_for, SIGCHLD);
	sigaddset(&wait_for, SIGTERM);
	sigaddset(&wait_for, SIGINT);
	sigaddset(&wait_for, SIGHUP);
	sigprocmask(SIG_BLOCK, &wait_for, NULL);
	for (;;) {
		int sig = sigwaitinfo(&wait_for, NULL);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
			return 0;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

int main(int argc, char **argv)
{
	if (geteuid() != getuid() || getegid() != getgid()) {
		fputs("docker-init: refused: the init of --init containers never runs set-id\n", stderr);
		return 125;
	}
	if (argc == 2 && strcmp(argv[1], "--hold") == 0)
		return hold();
	if (argc > 1 && strcmp(argv[1], "--seccomp") == 0)
		seccomp_loader(argc, argv);
	int first = 1;
	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (first >= argc) {
		fputs("docker-init: usage: docker-init -- COMMAND [ARG...]\n", stderr);
		return 1;
	}
	/* Not PID 1 (hack/runcbats runs runc's suite under it), it still
	 * gets the orphans of what it runs to reap, as tini -s. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	sigset_t wait_for, orig;
	sigfillset(&wait_for);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		sigdelset(&wait_for, kept[i]);
	sigprocmask(SIG_BLOCK, &wait_for, &orig);
	sigaddset(&wait_for, SIGTTOU); /* blocked in the child until its tcsetpgrp */
	sigprocmask(SIG_BLOCK, &wait_for, NULL);
	sigdelset(&wait_for, SIGTTOU);

	pid_t child = start(argv + first, &orig);
	if (child < 0) {
		perror("docker-init: fork");
		return 1;
	}
	for (;;) {
		int sig = sigwaitinfo(&wait_for, NULL);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			if (WIFSIGNALED(status))
				return 128 + WTERMSIG(status);
			return WEXITSTATUS(status);
		}
	}
}
