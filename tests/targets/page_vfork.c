/* vfork children over page-watched memory: the child shares the parent's memory (and its
 * protected pages). Modes: write_exit / write_exec (the child writes big[5000], then _exits or
 * execs), exec (the child only execs), spawn (posix_spawn: clone(CLONE_VM|CLONE_VFORK)), fork
 * (a child with its own copy writes it), threads (a second thread writes big meanwhile).
 * Prints the child's pid and how it ended, and big[5000] as the parent sees it. */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
__attribute__((aligned(4096))) char big[65536];
static volatile int started;
long rounds = 2000;

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void done(void) {}
__attribute__((noinline)) void put(long i, char c) { big[i] = c; }
__attribute__((noinline)) void child_put(long i, char c) { big[i] = c; }

static void *writer(void *arg)  /* one new byte per round, each round a change */
{
    (void)arg;
    for (long r = 0; r < rounds; r++) {
        put(16384 + r, (char)(r % 250 + 1));
        started = 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "write_exit";
    pthread_t t;
    pid_t c;
    int st = 0;
    ready();
    put(1, 'p');
    if (strcmp(mode, "threads") == 0) {
        pthread_create(&t, NULL, writer, NULL);
        while (!started)
            ;
    }
    if (strcmp(mode, "spawn") == 0) {
        char *av[] = {"true", NULL};
        if (posix_spawn(&c, "/bin/true", NULL, NULL, av, environ) != 0)
            return 3;
    } else if (strcmp(mode, "fork") == 0) {
        c = fork();
        if (c == 0) {
            child_put(6000, 'f');
            _exit(big[6000] == 'f' ? 9 : 8);
        }
    } else {
        c = vfork();
        if (c == 0) {
            if (strcmp(mode, "exec") != 0)
                child_put(5000, 'c');
            if (strcmp(mode, "write_exec") == 0 || strcmp(mode, "exec") == 0)
                execl("/bin/true", "true", (char *)0);
            _exit(7);
        }
    }
    waitpid(c, &st, 0);
    if (strcmp(mode, "threads") == 0)
        pthread_join(t, NULL);
    put(2, 'q');
    printf("child %d exited=%d code=%d signal=%d big[5000]=%d\n", (int)c, WIFEXITED(st), WEXITSTATUS(st),
           WIFSIGNALED(st) ? WTERMSIG(st) : 0, big[5000]);
    done();
    return 0;
}
