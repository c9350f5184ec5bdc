/* Thread lives and deaths, for the differential tests of how gdb reports them
   (test_thread_exits_gdb_diff.py). Each mode orders its events by joins and pipes, never by time:
   join      a worker starts a second one, joins it, then writes `total` and calls work()
             (the second's exit comes before that stop);
   mainexit  main ends with pthread_exit; the worker waits until main is a zombie, then writes
             `total` and calls work(), and ends the process with exit(3);
   specific  main starts a worker held on a pipe, calls spawned(), lets it go and joins it;
             the worker calls work() twice and ends;
   rename    as specific, the worker renaming itself with pthread_setname_np first;
   abandon   main starts the worker, waits until it is held on the pipe, and returns 2. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long total;
static int gate[2], ready[2];
static int renames;

__attribute__((noinline)) int work(int n)
{
    total += n;
    return n * 2;
}

__attribute__((noinline)) void spawned(void)
{
}

static void *quick(void *arg)
{
    return arg;
}

static void *joiner(void *arg)
{
    pthread_t second;
    pthread_create(&second, NULL, quick, arg);
    pthread_join(second, NULL);
    total = 100;
    work(2);
    return NULL;
}

static int main_is_zombie(pid_t pid)
{
    char path[64], line[128];
    int zombie = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", pid, pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "State:", 6) == 0)
            zombie = strchr(line, 'Z') != NULL;
    fclose(f);
    return zombie;
}

static void *survivor(void *arg)
{
    struct timespec ms = { 0, 1000000 };
    while (!main_is_zombie(getpid()))
        nanosleep(&ms, NULL);
    total = 500;
    work(3);
    exit(3);
    return arg;
}

static void *held(void *arg)
{
    char c = 'r';
    if (write(ready[1], &c, 1) != 1 || read(gate[0], &c, 1) != 1)
        return arg;
    if (renames)
        pthread_setname_np(pthread_self(), "renamed");
    work(4);
    total = 600;
    work(5);
    return arg;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "join";
    pthread_t thread;
    work(1);
    if (strcmp(mode, "join") == 0) {
        pthread_create(&thread, NULL, joiner, NULL);
        pthread_join(thread, NULL);
    } else if (strcmp(mode, "mainexit") == 0) {
        pthread_create(&thread, NULL, survivor, NULL);
        pthread_exit(NULL);
    } else {
        renames = strcmp(mode, "rename") == 0;
        char c;
        if (pipe(gate) != 0 || pipe(ready) != 0)
            return 1;
        pthread_create(&thread, NULL, held, NULL);
        if (read(ready[0], &c, 1) != 1 || strcmp(mode, "abandon") == 0)
            return 2;
        spawned();
        if (write(gate[1], "g", 1) != 1)
            return 1;
        pthread_join(thread, NULL);
    }
    work(9);
    printf("total = %ld\n", total);
    return 0;
}
