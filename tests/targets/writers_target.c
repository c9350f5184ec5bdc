/* Several writers of one watched long: two functions of the main thread, a function run by
 * two threads, memset and memcpy in libc. Every write changes the value (gdb's watch, which
 * reports changes only, counts the same writes). The counts are fixed: argv[1] scales them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct box { long pad; long watched; long tail; };
struct box box;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int rounds = 10;

__attribute__((noinline)) void bump_a(void) { box.watched += 1; }
__attribute__((noinline)) void bump_b(void) { box.watched += 1000; }
__attribute__((noinline)) void set_c(long v) { box.watched = v; }

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        pthread_mutex_lock(&lock);
        bump_b();
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    struct box src;
    for (int i = 0; i < rounds; i++)
        bump_a();                            /* rounds writes */
    for (int i = 0; i < 2 * rounds; i++)
        set_c(-1 - i);                       /* 2 * rounds writes */
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);            /* 2 * rounds writes in bump_b, two threads */
    for (int i = 0; i < 3; i++) {
        memset(&box, 0x11 * (i + 1), sizeof box);     /* at least one write each */
        memset(&src, 0x21 + i, sizeof src);
        memcpy(&box, &src, sizeof box);               /* at least one write each */
    }
    return 0;
}
