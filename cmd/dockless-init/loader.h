/* The seccomp loader (loader.c): never returns. */
int seccomp_loader(int argc, char **argv) __attribute__((noreturn));
