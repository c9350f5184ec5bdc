/* Call chains for the unwinder: main -> level1 -> level2 -> level3 writes the_global;
 * then main -> fill -> memset (libc) writes buffer. noipa keeps every function a real
 * frame at -O2 (no inlining, no cloning), the empty asm after each call keeps it from
 * becoming a tail call. */
#include <string.h>

volatile long the_global;
char buffer[8192];

__attribute__((noipa)) void level3(long v) { the_global = v; }
__attribute__((noipa)) void level2(long v) { level3(v + 1); __asm__ volatile("" ::: "memory"); }
__attribute__((noipa)) void level1(long v) { level2(v * 2); __asm__ volatile("" ::: "memory"); }

__attribute__((noipa)) void fill(char *p, size_t n)
{
    memset(p, 0x5a, n);
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    level1(20);
    fill(buffer, sizeof buffer);
    return 0;
}
