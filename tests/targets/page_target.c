/* Writes into ranges too large for the debug registers: a 64 KB array (one write per 4 KB
 * page, some writes of the same value, plus a neighbour on the same page written often), a
 * struct of 200 bytes, and read() into the array (which must not fail with EFAULT while its
 * pages are protected). The writes happen in functions, so each has its own pc. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct record { long id; char name[184]; long tail; };

__attribute__((aligned(4096))) char big[65536];
long neighbour;  /* on a page of its own or after big: written often, never reported */
struct record rec;
long rounds = 3;

static volatile sig_atomic_t stop_looping;
static void on_usr1(int sig) { (void)sig; stop_looping = 1; }

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void done(void) {}
__attribute__((noinline)) void put(long i, char c) { big[i] = c; }
__attribute__((noinline)) void same(long i) { big[i] = big[i]; }
__attribute__((noinline)) void touch_neighbour(void) { neighbour++; }
__attribute__((noinline)) void set_tail(long v) { rec.tail = v; }
__attribute__((noinline)) void set_id(long v) { rec.id = v; }
__attribute__((noinline)) void name_char(int i, char c) { rec.name[i] = c; }

static void *hammer(void *arg)  /* writes its own bytes of big in a tight loop until SIGUSR1 */
{
    long base = (long)arg;
    for (long r = 0; !stop_looping; r++)
        big[base + r % 4096] = (char)(r + r / 4096);  /* a new value at each pass */
    return NULL;
}

static void *thread_writer(void *arg)
{
    long base = (long)arg;
    for (long r = 0; r < rounds; r++)
        put(base + r, (char)(r % 250 + 1));
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "basic";
    if (argc > 2)
        rounds = atol(argv[2]);
    ready();
    if (strcmp(mode, "basic") == 0) {
        for (long r = 0; r < rounds; r++)
            for (long i = 0; i < (long)sizeof big; i += 4096) {
                put(i + r, (char)(r + 1));
                same(i + r);
                touch_neighbour();
            }
        set_tail(99);
    } else if (strcmp(mode, "struct") == 0) {  /* rec (200 bytes) and its page neighbour */
        for (long r = 0; r < rounds; r++) {
            set_id(r + 1);
            set_id(r + 1);                     /* same value: no hit */
            name_char((int)(r % 180), 'a' + (char)(r % 26));
            touch_neighbour();                 /* same page, not watched */
        }
        set_tail(99);
    } else if (strcmp(mode, "read") == 0) {
        int fd = open("/dev/zero", O_RDONLY);
        memset(big, 'x', 8192);
        long got = read(fd, big + 4000, 200);   /* across a page boundary */
        printf("read=%ld\n", got);
    } else if (strcmp(mode, "forever") == 0) {  /* for attach: loops until SIGUSR1, then writes big */
        signal(SIGUSR1, on_usr1);
        printf("looping\n");
        fflush(stdout);
        while (!stop_looping)
            usleep(1000);
        put(100, 'z');
    } else if (strcmp(mode, "hammer") == 0) {  /* for attach: 2 threads write big until SIGUSR1 */
        pthread_t t[2];
        signal(SIGUSR1, on_usr1);
        for (long i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, hammer, (void *)(i * 8192));
        printf("looping\n");
        fflush(stdout);
        while (!stop_looping)
            usleep(1000);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        put(100, 'z');
    } else if (strcmp(mode, "threads") == 0) {
        pthread_t t[2];
        long gap = argc > 3 ? atol(argv[3]) : 30000;  /* 2000: both threads write the same page */
        for (long i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, thread_writer, (void *)(i * gap));
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
    }
    done();
    return 0;
}
