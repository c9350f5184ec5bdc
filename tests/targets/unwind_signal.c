/* A signal handler writes the_global: the unwinder must cross the kernel's signal frame
 * (glibc's __restore_rt, described by DWARF expressions) back to the code it interrupted. */
#include <signal.h>

volatile long the_global;

__attribute__((noipa)) void record(long v) { the_global = v; }
__attribute__((noipa)) void on_signal(int signo) { record(signo); __asm__ volatile("" ::: "memory"); }

__attribute__((noipa)) void send_signal(void)
{
    raise(SIGUSR1);
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    signal(SIGUSR1, on_signal);
    send_signal();
    return 0;
}
