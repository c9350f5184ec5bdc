/* A thread blocked in a system call writing into a page-watched array while another thread
 * writes the array: the reader blocks in read() on an empty pipe into big[100..400) until
 * the main thread, having seen it blocked (/proc/self/task/TID/syscall), has written other
 * bytes of the same page `rounds` times, then fills the pipe. Calls that fail (EBADF, ESPIPE) and a
 * getrandom() into big show results and errno are the program's own. With a second
 * argument the main thread reads a byte of stdin before it fills the pipe (for detach).
 * "stepi": one read() of /dev/zero into big across a page boundary, made by a `syscall`
 * instruction of our own (raw_read), for stepping over it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((aligned(4096))) char big[65536];
static int fds[2];
static volatile pid_t reader_tid;
static long rounds = 20;

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void done(void) {}
__attribute__((noinline)) void b_write(long i, char c) { big[2048 + i] = c; }  /* the page read() writes */

__attribute__((noinline)) long raw_read(long fd, void *buf, long n)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "0"(0L), "D"(fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
    return ret;
}

static int blocked_in_read(pid_t tid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int in_read = fgets(line, sizeof line, f) != NULL && strncmp(line, "0 ", 2) == 0;
    fclose(f);
    return in_read;
}

static void *reader(void *arg)
{
    (void)arg;
    reader_tid = (pid_t)syscall(SYS_gettid);
    ssize_t got = read(fds[0], big + 100, 300);
    printf("read=%zd\n", got);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "stepi") == 0) {
        int fd = open("/dev/zero", O_RDONLY);
        memset(big, 'x', 8192);
        ready();
        printf("read=%ld\n", raw_read(fd, big + 4000, 200));
        return 0;
    }
    if (argc > 1)
        rounds = atol(argv[1]);
    if (pipe(fds) != 0)
        return 2;
    ready();
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    while (reader_tid == 0 || !blocked_in_read(reader_tid))
        usleep(1000);
    for (long i = 0; i < rounds; i++)
        b_write(i, (char)(i % 250 + 1));
    char go;
    if (argc > 2 && read(0, &go, 1) != 1)
        return 4;
    char data[300];
    for (int i = 0; i < 300; i++)
        data[i] = (char)('A' + i % 26);
    if (write(fds[1], data, sizeof data) != (ssize_t)sizeof data)
        return 3;
    pthread_join(t, NULL);
    errno = 0;
    ssize_t bad = read(1000, big + 5000, 10);
    printf("badfd=%zd errno=%d\n", bad, errno);
    errno = 0;
    ssize_t spipe = pread(fds[0], big + 5100, 10, 0);
    printf("pread=%zd errno=%d\n", spipe, errno);
    ssize_t rnd = getrandom(big + 6000, 64, 0);
    printf("getrandom=%zd\n", rnd);
    printf("check=%c%c\n", big[100], big[399]);
    done();
    return 0;
}
