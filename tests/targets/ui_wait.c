/* The UI tests' attach target: prints "ready PID TID", then increments ticks every
 * millisecond until it reaches LIMIT (argument, default 3000), and exits 0.
 * With a second argument "thread", the loop runs in a second thread (TID is its id); with
 * "attached", the ticks start once a debugger has attached (a loaded machine can take longer
 * to start one than the LIMIT milliseconds; at most 2 minutes); with "thread-input", the thread
 * ticks until a line arrives on stdin (a refused attach leaves no tracer to start a clock). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

volatile long ticks;
static long limit = 3000;

static int wait_for_tracer;
static volatile int told_to_stop;

/* A debugger is attached (TracerPid in /proc/self/status is not 0). */
static int traced(void)
{
    char line[256];
    int pid = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "TracerPid: %d", &pid) == 1)
            break;
    if (f)
        fclose(f);
    return pid != 0;
}

static void *loop(void *arg)
{
    (void)arg;
    printf("ready %d %ld\n", (int)getpid(), (long)syscall(SYS_gettid));
    fflush(stdout);
    for (int ms = 0; wait_for_tracer && !traced() && ms < 120000; ms++)
        usleep(1000);
    while (ticks < limit && !told_to_stop) {
        ticks++;
        usleep(1000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        limit = atol(argv[1]);
    wait_for_tracer = argc > 2 && strcmp(argv[2], "attached") == 0;
    if (argc > 2 && strncmp(argv[2], "thread", 6) == 0) {
        pthread_t thread;
        pthread_create(&thread, NULL, loop, NULL);
        if (strcmp(argv[2], "thread-input") == 0) {
            char line[16];
            if (fgets(line, sizeof line, stdin))
                told_to_stop = 1;
        }
        pthread_join(thread, NULL);
    } else {
        loop(NULL);
    }
    printf("done %ld\n", ticks);
    return 0;
}
