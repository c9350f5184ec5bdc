/* Stops in several threads, one after the other, for the differential tests of gdb's stop and
   thread lines (test_thread_stops_gdb_diff.py): main calls work(), then two workers call it in
   turn (the second renames itself "helper"), then main again. Each worker is joined and reaped
   (gone from /proc/self/task, which needs the debugger to have seen its exit) before main goes
   on, so every line comes in one order under gdb and hwdbg. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <time.h>

struct pair { int a; int b; };
long total;

__attribute__((noinline)) int work(int n)
{
    total += n;
    return n * 2;
}

__attribute__((noinline)) struct pair make_pair(int a)
{
    struct pair p = { a, a + 1 };
    return p;
}

static void *worker(void *arg)
{
    long n = (long)arg;
    if (n == 2)
        prctl(PR_SET_NAME, "helper");
    work((int)n);
    make_pair((int)n);
    return NULL;
}

static int tasks(void)
{
    int count = 0;
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL)
        return 1;
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;)
        count += entry->d_name[0] != '.';
    closedir(dir);
    return count;
}

int main(void)
{
    struct pair p = make_pair(1);
    work(0);
    for (long i = 1; i <= 2; i++) {
        pthread_t thread;
        pthread_create(&thread, NULL, worker, (void *)i);
        pthread_join(thread, NULL);
        struct timespec ms = { 0, 1000000 };
        for (int waited = 0; tasks() > 1 && waited < 10000; waited++)
            nanosleep(&ms, NULL);
    }
    work(9);
    p = make_pair(5);
    printf("total = %ld %d\n", total, p.a);
    return 0;
}
