/* Reliability-suite tracee: rel_target MODE [ARGS...]. Every mode exits 0 when it ran as intended.
 *
 * Threads are created first and park on a barrier; main then calls ready() (where the
 * debugger stops and arms its watchpoints) and releases them. Thread i publishes its kernel
 * tid in tids[i] before ready(), so the debugger can attribute hits.
 *
 * Values written are distinct and never repeat (an emulated read watch on a variable that is
 * only written must stay silent). The 4 KB canary is never written by the program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <immintrin.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXT 16
#define BLOCK (64 * 1024)
#define MID (BLOCK / 2)

struct slot {                    /* one cache line per thread: a watched word between two neighbours */
    volatile long before;
    volatile long v;
    volatile long after;
    long pad[5];
} __attribute__((aligned(64)));

struct slot slots[MAXT];
volatile long shared4[4] __attribute__((aligned(64)));    /* written by threads i, i+4, i+8, i+12 */
volatile long tids[MAXT];
volatile long counter;
volatile long churn_var;
volatile long exec_flag;
unsigned char blocks[MAXT][BLOCK] __attribute__((aligned(4096)));
unsigned char block_src[BLOCK] __attribute__((aligned(4096)));
unsigned char vecs[MAXT][64] __attribute__((aligned(64)));
unsigned char big[32 << 20] __attribute__((aligned(4096)));  /* longcopy: one rep movsb lasts milliseconds */
volatile long copying = 1;
unsigned char canary[4096] __attribute__((aligned(4096))) = {[0 ... 4095] = 0xAA};
volatile sig_atomic_t got_usr1;

static pthread_barrier_t parked, go, finish;
static long nthreads, rounds;
static const char *mode;

__attribute__((noinline)) void ready(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void tick(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void done(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void bump(void) { counter = counter + 1; }

/* syscall mode: a system call instruction at a symbol of its own (rax: the call, then its result) */
__asm__(".text\n.globl sys_insn\n.type sys_insn, @function\nsys_insn:\n\tsyscall\n\tret\n"
        ".size sys_insn, .-sys_insn\n");

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

static long gettid_(void) { return syscall(SYS_gettid); }

static int canary_intact(void)
{
    for (int i = 0; i < 4096; i++)
        if (canary[i] != 0xAA)
            return 0;
    return 1;
}

/* ---- per-thread bodies ---------------------------------------------------------------- */

static void own_body(long i)
{
    for (long r = 0; r < rounds; r++) {
        slots[i].before = r;
        slots[i].v = (i << 40) | (r + 1);
        slots[i].after = r;
    }
}

static void shared4_body(long i)
{
    for (long r = 0; r < rounds; r++)
        shared4[i % 4] = (i << 40) | (r + 1);
}

static void blocks_body(long i)
{
    unsigned char *b = blocks[i];
    for (long r = 0; r < rounds; r++) {
        memset(b, (int)(r + 1), BLOCK);                  /* glibc: rep stosb or vector stores */
        memcpy(b, block_src, BLOCK);                      /* glibc: rep movsb or vector stores */
        void *d = b, *s = block_src;
        size_t n = BLOCK;
        __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
        d = b;
        n = BLOCK / 8;
        unsigned long q = 0x0101010101010101UL * (unsigned long)((r + 2) & 0xff);
        __asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(q) : "memory");
    }
}

/* Thread 0 copies 16 MB with one rep movsb per round (a watch near its start stops it early,
 * so the instruction goes on for milliseconds after the stop); the others write counter meanwhile. */
static void longcopy_body(long i)
{
    if (i != 0) {
        while (copying)
            counter = counter + 1;
        return;
    }
    for (long r = 0; r < rounds; r++) {
        void *d = big, *s = big + sizeof big / 2;
        size_t n = sizeof big / 2;
        __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
        big[sizeof big / 2 + 4096] = (unsigned char)(r + 1);  /* the next round copies a new value */
    }
    copying = 0;
}

__attribute__((target("avx"), noinline)) static void avx_store(unsigned char *p, int byte)
{
    _mm256_storeu_si256((__m256i *)p, _mm256_set1_epi8((char)byte));
}

static void vector_body(long i)
{
    unsigned char *v = vecs[i];
    unsigned char src[32];
    int avx = __builtin_cpu_supports("avx");
    for (long r = 0; r < rounds; r++) {
        int byte = (int)(r & 0x7f) + 1;
        memset(src, byte, sizeof src);
        __asm__ volatile("" ::: "memory");
        __builtin_memcpy(v, src, 32);                                  /* [0, 32): 2 x 16 or 1 x 32 bytes */
        __asm__ volatile("" ::: "memory");
        _mm_storeu_si128((__m128i *)(v + 12), _mm_set1_epi8((char)(byte + 1)));  /* [12, 28), unaligned */
        __asm__ volatile("" ::: "memory");
        _mm_store_si128((__m128i *)(v + 16), _mm_set1_epi8((char)(byte + 2)));   /* [16, 32), aligned */
        __asm__ volatile("" ::: "memory");
        _mm_stream_si128((__m128i *)(v + 16), _mm_set1_epi8((char)(byte + 3)));  /* non-temporal */
        _mm_sfence();
        if (avx)
            avx_store(v + 1, byte + 4);                                /* [1, 33): one 32-byte store */
        else
            _mm_storeu_si128((__m128i *)(v + 9), _mm_set1_epi8((char)(byte + 4)));
        __asm__ volatile("" ::: "memory");
        v[40] = (unsigned char)byte;                                   /* a neighbour in the same line */
    }
}

static void lifetime_body(long i)
{
    /* thread i lives (i + 1) x rounds milliseconds, writing its slot every 100 us */
    for (long k = 0; k < (i + 1) * rounds * 10; k++) {
        slots[i].v = k + 1;
        usleep(100);
    }
}

static void churn_body(long i)
{
    (void)i;
    __sync_fetch_and_add(&churn_var, 1);
}

static void *thread_main(void *arg)
{
    long i = (long)arg;
    tids[i] = gettid_();
    pthread_barrier_wait(&parked);
    pthread_barrier_wait(&go);
    if (!strcmp(mode, "own") || !strcmp(mode, "shared4") || !strcmp(mode, "blocks") || !strcmp(mode, "vector")) {
        if (!strcmp(mode, "own"))
            own_body(i);
        else if (!strcmp(mode, "shared4"))
            shared4_body(i);
        else if (!strcmp(mode, "blocks"))
            blocks_body(i);
        else
            vector_body(i);
        pthread_barrier_wait(&finish);   /* no thread ends before every thread has written */
    } else if (!strcmp(mode, "lifetimes"))
        lifetime_body(i);
    else if (!strcmp(mode, "longcopy"))
        longcopy_body(i);
    else if (!strcmp(mode, "crash") && i == nthreads - 1) {
        for (long r = 0; r < rounds; r++)
            slots[i].v = r + 1;
        *(volatile int *)8 = 1;                         /* SIGSEGV in a non-main thread */
    } else if (!strcmp(mode, "crash"))
        for (;;)
            slots[i].v = slots[i].v + 1;
    else if (!strcmp(mode, "thread-exit") && i == 0) {
        for (long r = 0; r < rounds; r++)
            slots[i].v = r + 1;
        exit(7);                                        /* exit_group from a non-main thread */
    } else if (!strcmp(mode, "thread-exit"))
        for (;;)
            slots[i].v = slots[i].v + 1;
    else if (!strcmp(mode, "thread-exec") && i == 0) {
        for (long r = 0; r < rounds; r++)
            counter = r + 1;
        execl("/proc/self/exe", "rel_target", "exec-child", "3", (char *)NULL);
        _exit(2);
    } else if (!strcmp(mode, "thread-exec"))
        for (;;)
            slots[i].v = slots[i].v + 1;
    return NULL;
}

/* Creates nthreads parked threads, stops in ready(), releases them, joins them. */
static int run_threads(void)
{
    pthread_t t[MAXT];
    if (nthreads < 1 || nthreads > MAXT)
        return 64;
    pthread_barrier_init(&parked, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&finish, NULL, (unsigned)nthreads);
    for (long i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, thread_main, (void *)i);
    pthread_barrier_wait(&parked);
    if (!strcmp(mode, "lifetimes")) {
        printf("%d", (int)getpid());
        for (long i = 0; i < nthreads; i++)
            printf(" %ld", tids[i]);
        printf("\n");
        fflush(stdout);
    }
    ready();
    pthread_barrier_wait(&go);
    for (long i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    bump();
    return canary_intact() ? 0 : 5;
}

static void *churn_thread(void *arg)
{
    churn_body((long)arg);
    return NULL;
}

static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "own";
    nthreads = argc > 2 ? atol(argv[2]) : 1;
    rounds = argc > 3 ? atol(argv[3]) : 10;

    if (!strcmp(mode, "own") || !strcmp(mode, "shared4") || !strcmp(mode, "blocks") ||
        !strcmp(mode, "vector") || !strcmp(mode, "crash") || !strcmp(mode, "thread-exit") ||
        !strcmp(mode, "thread-exec") || !strcmp(mode, "longcopy") ||
        !strcmp(mode, "lifetimes")) {
        if (!strcmp(mode, "blocks"))
            memset(block_src, 0x5a, sizeof block_src);
        return run_threads();
    }
    if (!strcmp(mode, "counter")) {            /* rel_target counter 0 N: N writes of counter, one thread */
        ready();
        for (long r = 0; r < rounds; r++)
            counter = r + 1;
        return 0;
    }
    if (!strcmp(mode, "icebp")) {              /* a write, an icebp (int1: a debug trap with nothing in DR6), a write */
        ready();
        counter = 1;
        __asm__ volatile(".byte 0xf1" ::: "memory");
        counter = 2;
        return 0;
    }
    if (!strcmp(mode, "syscall")) {            /* getpid by a syscall instruction at sys_insn */
        long ret;
        ready();
        __asm__ volatile("call sys_insn" : "=a"(ret) : "a"((long)SYS_getpid) : "rcx", "r11", "memory");
        return ret == getpid() ? 0 : 7;
    }
    if (!strcmp(mode, "burst-signal")) {       /* N writes, raise(SIGUSR1) (handled), N writes */
        signal(SIGUSR1, on_usr1);
        ready();
        for (long r = 0; r < rounds; r++)
            counter = r + 1;
        raise(SIGUSR1);
        for (long r = 0; r < rounds; r++)
            counter = rounds + r + 1;
        return got_usr1 ? 0 : 6;
    }
    if (!strcmp(mode, "churn")) {              /* N short-lived threads, 8 alive at a time, each writes once */
        long n = nthreads;
        pthread_t t[8];
        ready();
        for (long done = 0; done < n;) {
            long batch = n - done < 8 ? n - done : 8;
            for (long k = 0; k < batch; k++)
                if (pthread_create(&t[k], NULL, churn_thread, (void *)(done + k)))
                    return 3;
            for (long k = 0; k < batch; k++)
                pthread_join(t[k], NULL);
            done += batch;
        }
        return churn_var == n ? 0 : 4;
    }
    if (!strcmp(mode, "segv")) {               /* one write, then a NULL store */
        ready();
        bump();
        *(volatile int *)0 = 1;
        return 0;
    }
    if (!strcmp(mode, "pause")) {              /* a write, blocks in pause() until SIGUSR1, a write, exit 0 */
        signal(SIGUSR1, on_usr1);
        printf("%d\n", (int)getpid());
        fflush(stdout);
        ready();
        bump();
        while (!got_usr1)
            pause();
        bump();
        return 0;
    }
    if (!strcmp(mode, "forever") || !strcmp(mode, "forever-attached")) {
        /* writes counter every ms for N seconds (forever-attached: from when a debugger has attached,
         * or stdin has a line or its end, at most 2 minutes later) */
        struct pollfd in = {0, POLLIN, 0};
        printf("%d\n", (int)getpid());
        fflush(stdout);
        for (int ms = 0; !strcmp(mode, "forever-attached") && !traced() && ms < 120000; ms++)
            if (poll(&in, 1, 1) > 0)
                break;
        ready();
        for (long i = 0; i < rounds * 1000; i++) {
            bump();
            usleep(1000);
        }
        return 0;
    }
    if (!strcmp(mode, "exec-child")) {         /* the image after exec: N writes */
        for (long r = 0; r < nthreads; r++)
            bump();
        return 0;
    }
    if (!strcmp(mode, "forks")) {              /* N forks; each child writes counter 100 times */
        ready();
        for (long k = 0; k < nthreads; k++) {
            bump();
            pid_t pid = k % 2 ? vfork() : fork();
            if (pid == 0) {
                if (k % 2)
                    execl("/bin/true", "true", (char *)NULL);
                for (int j = 0; j < 100; j++)
                    counter = counter + 1;
                _exit(0);
            }
            int status = 0;
            if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
                return 3;
        }
        return 0;
    }
    if (!strcmp(mode, "canary")) {             /* N rounds of counter writes, each preceded by tick() */
        printf("%d\n", (int)getpid());
        fflush(stdout);
        ready();
        for (long r = 0; r < rounds; r++) {
            tick();
            counter = r + 1;
            slots[0].v = r + 1;
            shared4[r % 4] = r + 1;
        }
        done();
        return canary_intact() ? 0 : 5;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 64;
}
