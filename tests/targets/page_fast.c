/* Page-watch writes of many shapes, for the C loop's page path against Python's
 * (tests/core/test_page_watch_fast.py). blk.arr is watched; blk.before and blk.after share its
 * pages (writes there are no hits); cross straddles a page boundary.
 *   page_fast ROUNDS [signals [solo]]   single-threaded rounds, then two threads (not with solo),
 *                                       then single again; with "signals" a 1 ms SIGALRM timer
 *   page_fast ROUNDS calls              single-threaded; each round a system call that writes no
 *                                       user memory (getppid), a write of arr and a read(2) into
 *                                       blk.before (arr's page: the kernel writes a protected page)
 *   page_fast forever                   for attach: one thread writes arr until SIGUSR1 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

struct block {
    long before[8];
    unsigned char arr[6000];  /* spans two pages */
    long after[8];
};
__attribute__((aligned(4096))) struct block blk;
__attribute__((aligned(4096))) unsigned char cross[8192];
volatile long alarms;
volatile sig_atomic_t stop;

void ready(void) {}
static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_usr1(int sig) { (void)sig; stop = 1; }

__attribute__((noinline)) void put_byte(int i, unsigned char v) { blk.arr[i] = v; }
__attribute__((noinline)) void put_long(int i, long v) { memcpy(&blk.arr[i], &v, 8); }
__attribute__((noinline)) void neighbours(long v) { blk.before[1] = v; blk.after[2] = v; }
__attribute__((noinline)) void put_cross(long v) { memcpy(&cross[4092], &v, 8); }

static void round_of(int r)
{
    put_byte(r % 6000, (unsigned char)(r + 1));
    put_byte(r % 6000, (unsigned char)(r + 1));        /* the same byte again: no hit */
    put_long(4090, 0x0101010101010101L * (r + 2));      /* across arr's own page boundary */
    neighbours(r);                                      /* same pages, not watched: no hit */
    put_cross(0x1122334455667788L + r);
}

static void *worker(void *arg)
{
    long base = (long)arg;
    for (int r = 0; r < 50; r++)
        put_byte((int)base + r, (unsigned char)(r + 7));
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "forever") == 0) {
        signal(SIGUSR1, on_usr1);
        printf("looping\n");
        fflush(stdout);
        for (long i = 0; !stop; i++)
            put_byte((int)(i % 6000), (unsigned char)(i + 1));
        return 0;
    }
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    if (argc > 2 && strcmp(argv[2], "calls") == 0) {
        int p[2], bad = 0;
        if (pipe(p) != 0)
            return 3;
        ready();
        for (int r = 0; r < rounds; r++) {
            unsigned char c = (unsigned char)r;
            syscall(SYS_getppid);
            put_byte(r % 6000, (unsigned char)(r + 1));
            bad += write(p[1], &c, 1) != 1 || read(p[0], (unsigned char *)&blk.before[3], 1) != 1
                   || *(unsigned char *)&blk.before[3] != c;
        }
        printf("done bad=%d\n", bad);
        return 0;
    }
    if (argc > 2 && strcmp(argv[2], "signals") == 0) {
        struct itimerval t = {{0, 1000}, {0, 1000}};
        signal(SIGALRM, on_alarm);
        setitimer(ITIMER_REAL, &t, NULL);
    }
    ready();
    for (int r = 0; r < rounds; r++)
        round_of(r);
    if (!(argc > 3 && strcmp(argv[3], "solo") == 0)) {
        pthread_t a, b;
        pthread_create(&a, NULL, worker, (void *)1000L);
        pthread_create(&b, NULL, worker, (void *)3000L);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
    }
    for (int r = 0; r < rounds; r++)
        round_of(r + rounds);
    printf("done %ld\n", alarms >= 0 ? 1L : 0L);
    return 0;
}
