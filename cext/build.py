"""cffi builder for ``hwdbg._ptrace``: the debug registers of one traced thread, and the hit loop.

Executed by setuptools through ``cffi_modules``; it must not import hwdbg. The C
side performs PTRACE_PEEKUSER / PTRACE_POKEUSER and returns 0 or -errno; which
values to write, and in which order, is decided in Python (``hwdbg/hw/debugregs.py``).

``hwdbg_fast_loop`` is the steady-state trap loop (``hwdbg/hw/fastpath.py``): wait,
classify, record, resume — for hits Python has declared need no Python work. Anything
else is handed back untouched. cffi releases the GIL around every call.
"""
import os

from cffi import FFI

ffibuilder = FFI()

# The top-level DIE scanner behind the DWARF name index (hwdbg/symbols/index.py).
DWARF_TYPES = """
struct hwdbg_dwarf_sections {
    const unsigned char *info; size_t info_len;
    const unsigned char *abbrev; size_t abbrev_len;
    const unsigned char *str_offsets; size_t str_offsets_len;
    const unsigned char *addr; size_t addr_len;
    const unsigned char *ranges; size_t ranges_len;        /* .debug_ranges (DWARF 2-4) */
    const unsigned char *rnglists; size_t rnglists_len;    /* .debug_rnglists (DWARF 5) */
    unsigned long long info_base;  /* the .debug_info offset of info[0]: a window from one unit on */
};
struct hwdbg_die_rec {
    unsigned long long offset, cu_offset;
    unsigned long long value;    /* variable: static address; subprogram: low_pc */
    unsigned long long high;     /* subprogram: end of its code */
    unsigned long long origin;   /* DW_AT_specification / DW_AT_abstract_origin, a section offset */
    long long name_off;          /* -1: no DW_AT_name; in .debug_info, from the start of the window */
    int name_sec;                /* 0 .debug_info (inline string), 1 .debug_str, 2 .debug_line_str */
    int tag;
    int flags;                   /* 1 declaration, 2 static address, 4 pc range, 8 has a type, 64 thread-local,
                                    128 an inlined copy's entry address (in value),
                                    256 an out-of-line copy of an abstract instance (value, high) */
};
struct hwdbg_index_entry {
    unsigned long long value, high, cu_offset, offset;
    unsigned int key_off, key_len;   /* the name, in the key blob */
    int table;                       /* 0 variables, 1 functions, 2 types, 3 thread-locals, 4 inlined copies */
    unsigned int seq;                /* file order, among entries of one name */
};
"""
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dwarfscan.c")) as source:
    DWARF_SCAN = source.read()
# Every inlined copy of a function, for `break FUNCTION` (hwdbg/symbols/inlines.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "inlinescan.c")) as source:
    INLINE_SCAN = source.read()
# A unit's line-number program decoded (hwdbg/symbols/line_program.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lineprog.c")) as source:
    LINE_PROGRAM = source.read()
# A unit's line table built from those rows (hwdbg/symbols/line_program.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "linetable.c")) as source:
    LINE_TABLE = source.read()
# The packed name index built from the scanner's records (hwdbg/symbols/index.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dwarfindex.c")) as source:
    DWARF_INDEX = source.read()
# .debug_aranges decoded and sorted (hwdbg/symbols/aranges.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "aranges.c")) as source:
    ARANGES = source.read()
# Symbol-table queries without a table (hwdbg/symbols/elf.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "symscan.c")) as source:
    SYM_SCAN = source.read()
# Perf-event breakpoints and their ring buffer (hwdbg/hw/perftrace.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "perfring.c")) as source:
    PERF_RING = source.read()
# Page-watch faults in the hit loop (hwdbg/session/pagefast.py).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pagehit.c")) as source:
    PAGE_HIT = source.read()

# The C hit loop's tables, declared once for cdef and for the compiler.
FAST_TYPES = """
#define HWDBG_FAST_MAX_LEN 32
struct hwdbg_fast_bp {
    unsigned long addr;
    int len;
    int mode;            /* 0 every hit, 1 only value changes (watch), 2 only unchanged (rwatch) */
    int have_last;
    unsigned char last[32];
};
struct hwdbg_fast_hit {  /* read in bulk by hwdbg/hw/fastpath.py (HIT_FORMAT): keep the two in step */
    unsigned long pc;
    unsigned long long old_u, new_u;  /* the first 8 bytes as a little-endian number */
    int tid;
    int bp;              /* index into the bp table */
    int had_old;
    int pad;
    unsigned char old[32];
    unsigned char new[32];
};
struct hwdbg_page_insn {  /* a write the trampoline can make, with its trampoline (session/pagefast.py) */
    unsigned long pc;
    int len, code_len;
    unsigned char insn[16];
    unsigned char code[192];
};
struct hwdbg_page_bp {
    unsigned long addr;
    long len;
    int have_last;
    unsigned char *last, *cur;  /* len bytes each */
};
struct hwdbg_page_hit {
    unsigned long pc;     /* after the write, as pagewatch.py reports it */
    long lo, hi;          /* the changed bytes, offsets in the watch */
    long pool_off;        /* old bytes, then new bytes, hi - lo each */
    int tid, bp, had_old, pad;
};
struct hwdbg_page_args {
    int tid;                                         /* the only thread */
    unsigned long area;                              /* trampoline code page; data page after it */
    unsigned long loaded_pc;                         /* in/out: whose trampoline is in the code page */
    const unsigned long *pages; const int *prots; int npages;   /* sorted: the protected pages */
    const struct hwdbg_page_insn *insns; int ninsns;            /* sorted by pc */
    struct hwdbg_page_bp *bps; int nbps;
    struct hwdbg_page_hit *hits; int max_hits; int nhits;
    unsigned char *pool; long pool_size, pool_used, pool_need;
    int resume_syscall;                              /* resume with PTRACE_SYSCALL (syscall stops wanted) */
    const int *wanted_nrs; int nwanted;              /* sorted: calls whose syscall stops are Python's */
    int passed_tid;                                  /* the thread whose entry stop was passed; 0 none */
    int passed;                                      /* out: syscall stops resumed here */
    int faults;                                      /* out: faults handled */
    unsigned char saved[216];                        /* out (2): struct user_regs_struct at the fault */
    unsigned long start, length, fault_addr; int prot;
};
struct hwdbg_fast_args {
    struct hwdbg_page_args *pages;                   /* NULL: page faults are Python's */
    int mem_fd;
    const int *tids; int ntids;                      /* sorted: the threads we own */
    const unsigned long *plain_pcs; int nplain;      /* sorted: pcs known not to stop mid-instruction */
    int single_slot;                                 /* the only armed slot, or -1: read DR6 */
    signed char slot_bp[4];                          /* slot -> bp index, -1: Python decides */
    struct hwdbg_fast_bp *bps; int nbps;
    struct hwdbg_fast_hit *hits; int max_hits; int nhits;
    const int *signals; int nsignals;                /* with a Python handler: return to Python for them */
    int tid; int status;                             /* out: a stop for Python */
};
"""


# The --no-stop trace (hwdbg/hw/perftrace.py): one sampled perf breakpoint event per (thread,
# chunk); the chunks of one thread share one mmap ring (PERF_EVENT_IOC_SET_OUTPUT).
RING_TYPES = """
struct hwdbg_ring {
    void *base;                  /* the mapping: the control page, then the data pages */
    unsigned long long data_size;
    unsigned long long map_len;
};
struct hwdbg_sample {
    unsigned long long ip, time;
    int pid, tid;
    int nips;                    /* user call chain: ips[first .. first + nips) of the caller's array */
    int first;
};
"""

ffibuilder.cdef("""
#define HWDBG_U_DEBUGREG_OFFSET ...
#define HWDBG_DEBUGREG_SIZE ...
#define HWDBG_NUM_DEBUGREGS ...

int hwdbg_peek_dr(int tid, int reg, unsigned long *out);
int hwdbg_poke_dr(int tid, int reg, unsigned long value);
int hwdbg_poke_dr_sequence(int tid, int count, const int *regs,
                           const unsigned long *values, int *done);

""" + FAST_TYPES + """
int hwdbg_fast_loop(struct hwdbg_fast_args *a);

int hwdbg_perf_bp_open(int tid, unsigned long addr, int len, int type);

int hwdbg_seccomp_install(const unsigned char *filter, unsigned short count);
""" + RING_TYPES + """
int hwdbg_perf_trace_open(int tid, unsigned long addr, int len, int type, int callchain, int output_fd,
                          unsigned int wakeup_bytes);
int hwdbg_ring_map(int fd, int pages, struct hwdbg_ring *ring);
void hwdbg_ring_unmap(struct hwdbg_ring *ring);
int hwdbg_ring_read(struct hwdbg_ring *ring, struct hwdbg_sample *out, int max_out,
                    unsigned long long *ips, int max_ips, unsigned long long *lost);
""" + DWARF_TYPES + """
int hwdbg_dwarf_scan(struct hwdbg_dwarf_sections *s, unsigned long long *offset,
                     struct hwdbg_die_rec *out, int max_out);
int hwdbg_inline_scan(struct hwdbg_dwarf_sections *s, unsigned long long *offset,
                      struct hwdbg_die_rec *out, int max_out);
struct hwdbg_line_params { int min_inst_len, max_ops, default_is_stmt, line_base, line_range, opcode_base; };
struct hwdbg_line_row {
    unsigned long long address;
    long long line;
    unsigned int file, discriminator;
    unsigned char is_stmt, end_sequence, prologue_end, pad;
};
long hwdbg_line_rows(const unsigned char *prog, size_t len, const struct hwdbg_line_params *h,
                     struct hwdbg_line_row *out, long max_out);
#define HWDBG_NO_FILE ...
struct hwdbg_line_table {
    unsigned long long *starts, *ends; long long *lines; unsigned int *files; long nranges;
    unsigned long long *entry_addrs; long long *entry_lines; unsigned int *entry_files;
    unsigned char *entry_stmts; long nentries;
    unsigned long long *prologue_ends; long nprologue;
};
long hwdbg_line_table(const struct hwdbg_line_row *rows, long n, unsigned int nfiles, const int *ranks,
                      struct hwdbg_line_table *t);
struct hwdbg_line_stmt { unsigned long long address; long long line; int id, pad; };
long hwdbg_line_statements(const struct hwdbg_line_row *rows, long n, unsigned int nfiles, const int *ids, int nids,
                           struct hwdbg_line_stmt *out, long max_out);
long hwdbg_index_pack(const struct hwdbg_die_rec *recs, long n,
                      const unsigned char *info, size_t info_len, const unsigned char *str, size_t str_len,
                      const unsigned char *line_str, size_t line_str_len,
                      struct hwdbg_index_entry *out, unsigned char *keys, size_t keys_cap, size_t *keys_used);
int hwdbg_sym_named(const unsigned char *syms, size_t syms_len, const char *strtab, size_t strtab_len,
                    const char *name, size_t name_len, int *out, int max_out);
int hwdbg_sym_covering(const unsigned char *syms, size_t syms_len, unsigned long long addr, int kind,
                       int *out, int max_out);
long hwdbg_aranges(const unsigned char *data, size_t len, int little, unsigned long long *starts,
                   unsigned long long *ends, unsigned long long *units, long max_out);
""")

ffibuilder.set_source("hwdbg._ptrace", r"""
#if !defined(__x86_64__)
#error "hwdbg._ptrace supports x86-64 only for now (struct user.u_debugreg)"
#endif
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

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

""" + FAST_TYPES + RING_TYPES + r"""
static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_ulong(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return (x > y) - (x < y);
}

/* The watched bytes of a stopped thread: one PTRACE_PEEKDATA when they lie in one aligned word
 * (a single debug register's range always does), which costs the trap path less than a pread
 * of /proc/PID/mem (~0.1 us a hit, bench/README.md); a pread for longer watches. 0 or -1. */
static int read_watched(struct hwdbg_fast_args *a, int tid, const struct hwdbg_fast_bp *bp,
                        unsigned char *value)
{
    unsigned long off = bp->addr & 7;
    long word;
    if (off + (unsigned long)bp->len > 8)
        return pread(a->mem_fd, value, bp->len, (off_t)bp->addr) == bp->len ? 0 : -1;
    errno = 0;
    word = ptrace(PTRACE_PEEKDATA, tid, (void *)(bp->addr - off), NULL);
    if (word == -1 && errno != 0)  /* the word is returned in-band */
        return -1;
    memcpy(value, (unsigned char *)&word + off, bp->len);
    return 0;
}

/* Handles one stop if it is a hit Python has delegated; 1 if handled, 0 if Python must see it. */
static int fast_hit(struct hwdbg_fast_args *a, int tid, int status)
{
    siginfo_t si;
    unsigned long pc, dr6;
    unsigned char value[32];
    int slot, b, same, keep;
    struct hwdbg_fast_bp *bp;

    if (!WIFSTOPPED(status) || (status >> 16) != 0 || WSTOPSIG(status) != SIGTRAP)
        return 0;
    if (!bsearch(&tid, a->tids, a->ntids, sizeof(int), cmp_int))
        return 0;
    if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == -1 || si.si_code != 4 /* TRAP_HWBKPT */)
        return 0;
    slot = a->single_slot;
    if (slot < 0) {
        if (hwdbg_peek_dr(tid, 6, &dr6) != 0)
            return 0;
        dr6 &= 0xf;
        if (dr6 == 0 || (dr6 & (dr6 - 1)))  /* several slots fired: Python routes them all */
            return 0;
        slot = __builtin_ctzl(dr6);
    }
    b = a->slot_bp[slot];
    pc = (unsigned long)si.si_addr;
    if (b < 0 || !bsearch(&pc, a->plain_pcs, a->nplain, sizeof(unsigned long), cmp_ulong))
        return 0;
    bp = &a->bps[b];
    if (read_watched(a, tid, bp, value) != 0)
        return 0;
    same = bp->have_last && memcmp(value, bp->last, bp->len) == 0;
    keep = !(bp->mode == 1 && same) && !(bp->mode == 2 && bp->have_last && !same);
    if (keep) {
        struct hwdbg_fast_hit *h = &a->hits[a->nhits++];
        h->tid = tid;
        h->bp = b;
        h->pc = pc;
        h->had_old = bp->have_last;
        memcpy(h->old, bp->last, bp->len);
        memcpy(h->new, value, bp->len);
        h->old_u = h->new_u = 0;
        memcpy(&h->old_u, bp->last, bp->len < 8 ? bp->len : 8);
        memcpy(&h->new_u, value, bp->len < 8 ? bp->len : 8);
    }
    memcpy(bp->last, value, bp->len);
    bp->have_last = 1;
    if (ptrace(PTRACE_CONT, tid, NULL, NULL) == -1 && errno != ESRCH)
        return -errno;
    return 1;
}

""" + PAGE_HIT + r"""
""" + PERF_RING + r"""

/* Signals during the loop. Python runs its handlers only once the loop has returned, so the
 * loop must return when one arrives, even if the target then goes quiet. A signal caught
 * inside waitpid makes it fail with EINTR; one caught elsewhere in the loop sets wake_pending,
 * checked before each wait. One caught just after that check and before waitpid sleeps would
 * still be missed: so the handler, on the tracer thread, also PTRACE_INTERRUPTs a thread of
 * the target, whose stop ends the wait (Python resumes such a stale interrupt stop). Caught on
 * another thread, the signal is forwarded to the loop's thread (marked: it is not chained again).
 * The handler chains to the one it replaced (CPython's), installed without SA_RESTART. */
#define WAKE_MAGIC 0x68776462
static volatile sig_atomic_t wake_pending;
static pid_t loop_tid;                  /* the thread inside hwdbg_fast_loop, 0 when none */
static const int *loop_tids;
static int loop_ntids;
static struct sigaction chained[NSIG];

static void wake_loop(int sig, siginfo_t *info, void *ctx)
{
    int saved = errno, i;
    pid_t loop = __atomic_load_n(&loop_tid, __ATOMIC_SEQ_CST);
    int forwarded = info->si_code == SI_QUEUE && info->si_pid == getpid() &&
                    info->si_value.sival_int == WAKE_MAGIC;
    wake_pending = 1;
    if (loop != 0 && loop == (pid_t)syscall(SYS_gettid)) {
        for (i = 0; i < loop_ntids; i++)
            if (ptrace(PTRACE_INTERRUPT, loop_tids[i], NULL, NULL) == 0)
                break;
    } else if (loop != 0 && !forwarded) {
        siginfo_t fwd;
        memset(&fwd, 0, sizeof fwd);
        fwd.si_signo = sig;
        fwd.si_code = SI_QUEUE;
        fwd.si_pid = getpid();
        fwd.si_uid = getuid();
        fwd.si_value.sival_int = WAKE_MAGIC;
        syscall(SYS_rt_tgsigqueueinfo, getpid(), loop, sig, &fwd);
    }
    if (!forwarded) {
        if (chained[sig].sa_flags & SA_SIGINFO)
            chained[sig].sa_sigaction(sig, info, ctx);
        else if (chained[sig].sa_handler != SIG_DFL && chained[sig].sa_handler != SIG_IGN)
            chained[sig].sa_handler(sig);
    }
    errno = saved;
}

/* Puts wake_loop in front of each signal's handler; default and ignored signals stay as they
 * are. Python may have replaced it since the last loop (signal.signal): checked every time. */
static void watch_signals(const int *signals, int n)
{
    struct sigaction cur, ours;
    int i;
    for (i = 0; i < n; i++) {
        if (signals[i] <= 0 || signals[i] >= NSIG || sigaction(signals[i], NULL, &cur) != 0)
            continue;
        if ((cur.sa_flags & SA_SIGINFO) ? cur.sa_sigaction == wake_loop
                                        : (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN))
            continue;
        chained[signals[i]] = cur;
        ours = cur;
        ours.sa_sigaction = wake_loop;
        ours.sa_flags = (cur.sa_flags | SA_SIGINFO) & ~SA_RESTART;
        sigaction(signals[i], &ours, NULL);
    }
}

static int fast_loop(struct hwdbg_fast_args *a)
{
    int status, rc;
    pid_t tid;
    for (;;) {
        if (a->nhits >= a->max_hits)
            return 0;
        if (a->pages && (a->pages->nhits >= a->pages->max_hits
                         || a->pages->pool_used + a->pages->pool_need > a->pages->pool_size))
            return 0;
        if (wake_pending)
            return -EINTR;
        tid = waitpid(-1, &status, __WALL);
        if (tid < 0)
            return -errno;
        rc = fast_hit(a, tid, status);
        if (rc == 0 && a->pages)
            rc = page_hit(a, tid, status);
        if (rc == 0 && a->pages)
            rc = page_syscall(a, tid, status);
        if (rc < 0)
            return rc;
        if (rc == 2)
            return 2;  /* a->tid/a->status set, the trampoline under way */
        if (rc == 0) {
            a->tid = tid;
            a->status = status;
            return 1;
        }
    }
}

/* Waits and handles delegated hits until the hit buffer is full (returns 0), a stop needs
 * Python (returns 1 with a->tid/a->status; 2 for a page fault whose trampoline it interrupted), a signal arrived (-EINTR) or waitpid fails (-errno). */
int hwdbg_fast_loop(struct hwdbg_fast_args *a)
{
    int rc;
    watch_signals(a->signals, a->nsignals);
    loop_tids = a->tids;
    loop_ntids = a->ntids;
    __atomic_store_n(&loop_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
    rc = fast_loop(a);
    __atomic_store_n(&loop_tid, 0, __ATOMIC_SEQ_CST);
    wake_pending = 0;  /* Python sees every signal caught so far: its handlers run next */
    return rc;
}
/* The kernel-write filter (hwdbg/linux/seccomp.py builds the BPF): installed by the child hwdbg
 * forked, before it execs. As root (CAP_SYS_ADMIN) no_new_privs is not needed; otherwise the
 * kernel demands it (EACCES), and it is set then only. */
int hwdbg_seccomp_install(const unsigned char *filter, unsigned short count)
{
    struct sock_fprog prog;
    prog.len = count;
    prog.filter = (struct sock_filter *)filter;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
        return 0;
    if (errno != EACCES)
        return -errno;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        return -errno;
    return 0;
}

""" + DWARF_TYPES + DWARF_SCAN + INLINE_SCAN + LINE_PROGRAM + LINE_TABLE + DWARF_INDEX + SYM_SCAN + ARANGES + r"""
""")

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
