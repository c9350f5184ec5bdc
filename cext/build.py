"""cffi builder for ``hwdbg._ptrace``: the debug registers of one traced thread.

Executed by setuptools through ``cffi_modules``; it must not import hwdbg. The C
side only performs PTRACE_PEEKUSER / PTRACE_POKEUSER and returns 0 or -errno;
which values to write, and in which order, is decided in Python
(``hwdbg/hw/debugregs.py``). cffi releases the GIL around every call.
"""
from cffi import FFI

ffibuilder = FFI()

ffibuilder.cdef("""
#define HWDBG_U_DEBUGREG_OFFSET ...
#define HWDBG_DEBUGREG_SIZE ...
#define HWDBG_NUM_DEBUGREGS ...

int hwdbg_peek_dr(int tid, int reg, unsigned long *out);
int hwdbg_poke_dr(int tid, int reg, unsigned long value);
int hwdbg_poke_dr_sequence(int tid, int count, const int *regs,
                           const unsigned long *values, int *done);
""")

ffibuilder.set_source("hwdbg._ptrace", r"""
#if !defined(__x86_64__)
#error "hwdbg._ptrace supports x86-64 only for now (struct user.u_debugreg)"
#endif
#include <errno.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>

#define HWDBG_U_DEBUGREG_OFFSET offsetof(struct user, u_debugreg)
#define HWDBG_DEBUGREG_SIZE sizeof(((struct user *)0)->u_debugreg[0])
#define HWDBG_NUM_DEBUGREGS (sizeof(((struct user *)0)->u_debugreg) / HWDBG_DEBUGREG_SIZE)

static long dr_offset(int reg)
{
    return (long)(offsetof(struct user, u_debugreg) + (size_t)reg * HWDBG_DEBUGREG_SIZE);
}

/* PEEKUSER returns the register in-band: -1 is a valid value, so errno decides. */
int hwdbg_peek_dr(int tid, int reg, unsigned long *out)
{
    long value;
    errno = 0;
    value = ptrace(PTRACE_PEEKUSER, (pid_t)tid, (void *)dr_offset(reg), NULL);
    if (value == -1 && errno != 0)
        return -errno;
    *out = (unsigned long)value;
    return 0;
}

int hwdbg_poke_dr(int tid, int reg, unsigned long value)
{
    if (ptrace(PTRACE_POKEUSER, (pid_t)tid, (void *)dr_offset(reg), (void *)value) == -1)
        return -errno;
    return 0;
}

/* Writes regs[i] = values[i] in the order given, stopping at the first failure.
 * *done is how many writes succeeded; the caller knows what to roll back. */
int hwdbg_poke_dr_sequence(int tid, int count, const int *regs,
                           const unsigned long *values, int *done)
{
    int i, rc;
    for (i = 0; i < count; i++) {
        rc = hwdbg_poke_dr(tid, regs[i], values[i]);
        if (rc != 0) {
            *done = i;
            return rc;
        }
    }
    *done = count;
    return 0;
}
""")

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
