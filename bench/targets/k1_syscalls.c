/* A syscall-heavy program for the --kernel overhead: N rounds of getppid() (not a writing
 * call), pread() of 64 bytes from /dev/zero into `scratch` (a writing call, not watched) and,
 * every 1000th round, read() into `watched` (a writing call into the watched buffer). It prints
 * the time of its loop, so startup and the debugger's set-up are not counted. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

char scratch[64];
char watched[16];

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int fd = open("/dev/urandom", O_RDONLY);
    int zero = open("/dev/zero", O_RDONLY);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        getppid();
        if (pread(zero, scratch, sizeof scratch, 0) != sizeof scratch)
            return 1;
        if (i % 1000 == 0 && read(fd, watched, sizeof watched) != sizeof watched)
            return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    fprintf(stderr, "loop_seconds %.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
