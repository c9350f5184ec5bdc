/* A MAP_SHARED area (`area`, two pages) page-watched from ready(): read() and fstat() into it,
 * a forked child's write to it (another process: its writes are not the traced program's), and
 * the program's own write. Prints what each call got, to compare with a run without a debugger. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *area;

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void own_write(char c) { area[50] = c; }

static unsigned long hash(const void *p, size_t n)
{
    unsigned long h = 1469598103934665603UL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211UL;
    return h;
}

int main(void)
{
    int fds[2];
    area = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || pipe(fds) != 0)
        return 2;
    memset(area, 'x', 8192);
    ready();
    char data[300];
    for (int i = 0; i < 300; i++)
        data[i] = (char)('a' + i % 26);
    if (write(fds[1], data, sizeof data) != (ssize_t)sizeof data)
        return 3;
    long ret = read(fds[0], area + 100, 300);
    printf("read=%ld hash=%016lx\n", ret, hash(area + 100, 300));
    ret = fstat(fds[0], (struct stat *)(area + 1024));
    printf("fstat=%ld mode=%o\n", ret, ((struct stat *)(area + 1024))->st_mode);
    pid_t child = fork();
    if (child == 0) {
        area[4000] = 'C';
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("child=%c status=%#x\n", area[4000], status);
    own_write('M');
    printf("own=%c\n", area[50]);
    return 0;
}
