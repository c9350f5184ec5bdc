/* Signals a program sends itself, each with a handler: gdb stops at SIGUSR1 and SIGTERM, passes
   SIGALRM and SIGCHLD silently; the handler runs either way. Output and exit status say what the
   program saw. "thread": a second thread raises SIGUSR1 (gdb: Thread 2 "..." received signal);
   "joined": main raises it after a thread came and went. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got, count;

static void on_signal(int sig)
{
    got = sig;
    count++;
}

/* Waits for the handler to run: the signal is blocked until sigsuspend, so it cannot come too early. */
static void wait_for_handler(sigset_t *old)
{
    while (!got)
        sigsuspend(old);
}

static void *idle(void *arg)
{
    return arg;
}

static void *raiser(void *arg)
{
    (void)arg;
    raise(SIGUSR1);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "usr1";
    signal(SIGUSR1, on_signal);
    signal(SIGALRM, on_signal);
    signal(SIGCHLD, on_signal);
    signal(SIGTERM, on_signal);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    if (!strcmp(mode, "usr1")) {
        raise(SIGUSR1);
    } else if (!strcmp(mode, "alrm")) {
        alarm(1);
        wait_for_handler(&old);
    } else if (!strcmp(mode, "chld")) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(3);
        int status = 0;
        wait_for_handler(&old);
        waitpid(pid, &status, 0);
        printf("child exited with %d\n", WEXITSTATUS(status));
    } else if (!strcmp(mode, "term")) {
        kill(getpid(), SIGTERM);
    } else if (!strcmp(mode, "thread")) {
        pthread_t thread;
        pthread_create(&thread, NULL, raiser, NULL);
        pthread_join(thread, NULL);
    } else if (!strcmp(mode, "joined")) { /* a thread came and went: gdb still says "Thread 1" */
        pthread_t thread;
        pthread_create(&thread, NULL, idle, NULL);
        pthread_join(thread, NULL);
        raise(SIGUSR1);
    }
    printf("got signal %d, %d time(s)\n", (int)got, (int)count);
    return got;
}
