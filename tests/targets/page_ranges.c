/* Ranges beyond the debug registers named the ways gdb names them: `watch *p@100000` (a
 * malloc'd block through a pointer) and `watch buf` (a 64 KB array). Each write is in a
 * function of its own; put_p_long changes 2 bytes of an 8-byte store. The program waits
 * for `go` (set by the debugger), writes, calls done(), then reads a line of stdin and
 * writes every byte of both ranges: a page left read-only would kill it with SIGSEGV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char buf[65536];
char *p;
volatile int go;

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void done(void) {}
__attribute__((noinline)) void put_p(long i, char c) { p[i] = c; }
__attribute__((noinline)) void put_p_long(long i, long v) { *(long *)(p + i) = v; }
__attribute__((noinline)) void put_buf(long i, char c) { buf[i] = c; }

int main(void)
{
    p = calloc(100000, 1);
    printf("ready\n");
    fflush(stdout);
    ready();
    while (!go)
        usleep(1000);
    put_p(0, 1);
    put_p(99999, 2);
    put_p(50000, 3);
    put_p_long(1000, 0x0102);
    put_p(7, 0);  /* the same value: no hit */
    put_buf(0, 4);
    put_buf(65535, 5);
    done();
    char line[16];
    if (fgets(line, sizeof line, stdin) == NULL)
        return 3;
    memset(p, 'x', 100000);
    memset(buf, 'y', sizeof buf);
    printf("ok\n");
    return 0;
}
