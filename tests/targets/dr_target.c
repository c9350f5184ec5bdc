/* Debug-register target: dr_target MODE
 *   write  - write_all() stores once into v1, v2, v4, v8 (in that order), then exits 0
 *   rw     - read_rwcell() loads rwcell, then write_rwcell() stores into it, then exits 0
 *   exec   - calls exec_target() 3 times, then exits 0
 *   spin   - sleeps forever (a running, not ptrace-stopped, thread)
 *   movsb / stosb / movsq - one 4096-byte rep string store from srcbuf into dstbuf (string_store())
 */
#include <string.h>
#include <unistd.h>

volatile unsigned char v1 __attribute__((aligned(16)));
volatile unsigned short v2 __attribute__((aligned(16)));
volatile unsigned int v4 __attribute__((aligned(16)));
volatile unsigned long v8 __attribute__((aligned(16)));
volatile unsigned long rwcell __attribute__((aligned(16))) = 7;
volatile unsigned long sink __attribute__((aligned(16)));
volatile unsigned long exec_calls __attribute__((aligned(16)));

__attribute__((noinline)) void write_all(void)
{
    v1 = 0x11;
    v2 = 0x2222;
    v4 = 0x44444444u;
    v8 = 0x8888888888888888ul;
}

__attribute__((noinline)) void read_rwcell(void) { sink = rwcell; }

__attribute__((noinline)) void write_rwcell(void) { rwcell = 0xa5a5; }

unsigned char srcbuf[4096] __attribute__((aligned(4096)));
unsigned char dstbuf[4096] __attribute__((aligned(4096)));

__attribute__((noinline)) void string_store(const char *mode)
{
    void *d = dstbuf, *s = srcbuf;
    unsigned long n = sizeof dstbuf;
    if (!strcmp(mode, "movsb"))
        __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    else if (!strcmp(mode, "stosb"))
        __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0x5a) : "memory");
    else if (!strcmp(mode, "movsq")) {
        n /= 8;
        __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    }
}

__attribute__((noinline)) void exec_target(void) { exec_calls = exec_calls + 1; }

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "write";
    if (!strcmp(mode, "write")) {
        write_all();
    } else if (!strcmp(mode, "rw")) {
        read_rwcell();
        write_rwcell();
    } else if (!strcmp(mode, "exec")) {
        for (int i = 0; i < 3; i++)
            exec_target();
    } else if (!strcmp(mode, "spin")) {
        for (;;)
            pause();
    } else if (!strcmp(mode, "movsb") || !strcmp(mode, "stosb") || !strcmp(mode, "movsq")) {
        for (unsigned i = 0; i < sizeof srcbuf; i++)
            srcbuf[i] = (unsigned char)(i * 7 + 1);
        string_store(mode);
    } else {
        return 2;
    }
    return 0;
}
