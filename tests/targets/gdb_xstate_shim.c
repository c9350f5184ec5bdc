/* gdb 13 writes the XSAVE area with its own fixed size (2696 bytes); a kernel whose XSAVE
 * area is bigger (AMX) refuses any other size than its own with EFAULT, so every inferior
 * call fails ("Couldn't write extended state status: Bad address"). Preloaded into gdb, this
 * passes gdb's bytes on in a buffer of the kernel's size, the rest as the thread has it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

long ptrace(enum __ptrace_request request, ...)
{
    static long (*real)(enum __ptrace_request, pid_t, void *, void *);
    va_list ap;
    va_start(ap, request);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);
    if (!real)
        real = (long (*)(enum __ptrace_request, pid_t, void *, void *))dlsym(RTLD_NEXT, "ptrace");
    if (request == PTRACE_SETREGSET && (long)addr == NT_X86_XSTATE) {
        static unsigned char full[1 << 16];
        struct iovec *given = data, whole = {full, sizeof full};
        if (real(PTRACE_GETREGSET, pid, addr, &whole) == 0 && whole.iov_len > given->iov_len) {
            memcpy(full, given->iov_base, given->iov_len);
            return real(request, pid, addr, &whole);
        }
    }
    return real(request, pid, addr, data);
}
