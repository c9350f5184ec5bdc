/* Page-watch faults in the C hit loop (hwdbg/session/pagefast.py decides when it may take them).
 *
 * The common case of hwdbg/session/pagestub.py, without Python: a single-threaded target
 * faults on a protected page; the thread runs the trampoline already built for that pc
 * (lift, write, protect, int3), its registers are put back as the write left them, the
 * watched bytes are compared with the last copy and a change is recorded (pc after the write,
 * the changed byte range, old and new bytes in the pool). Anything else is Python's: returns 0
 * before anything is changed, or 2 with the trampoline under way (a->tid/a->status: the stop
 * that interrupted it; p->saved: the registers at the fault) for pagestub.py to finish. */
static int page_lookup(const struct hwdbg_page_args *p, unsigned long page)
{
    int lo = 0, hi = p->npages - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (p->pages[mid] == page)
            return mid;
        if (p->pages[mid] < page)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static const struct hwdbg_page_insn *insn_lookup(const struct hwdbg_page_args *p, unsigned long pc)
{
    int lo = 0, hi = p->ninsns - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (p->insns[mid].pc == pc)
            return &p->insns[mid];
        if (p->insns[mid].pc < pc)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static int page_wait(int tid, int *status)
{
    for (;;) {  /* the wake handler is installed without SA_RESTART: EINTR is not an answer */
        if (waitpid(tid, status, __WALL) == tid)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* The bytes of each page watch near the write compared with the last copy; a change recorded. */
static void page_compare(struct hwdbg_page_args *p, int mem_fd, int tid, unsigned long pc, unsigned long page)
{
    int b;
    for (b = 0; b < p->nbps; b++) {
        struct hwdbg_page_bp *bp = &p->bps[b];
        long lo, hi, n;
        if (!(bp->addr < page + 2 * 4096UL && page - 4096UL < bp->addr + (unsigned long)bp->len))
            continue;
        if (pread(mem_fd, bp->cur, (size_t)bp->len, (off_t)bp->addr) != bp->len)
            continue;  /* unmapped meanwhile: Python's read would fail as well; no hit */
        if (bp->have_last) {
            for (lo = 0; lo < bp->len && bp->cur[lo] == bp->last[lo]; lo++)
                ;
            if (lo == bp->len)
                continue;
            for (hi = bp->len; bp->cur[hi - 1] == bp->last[hi - 1]; hi--)
                ;
        } else {
            lo = 0;
            hi = bp->len;
        }
        n = hi - lo;
        struct hwdbg_page_hit *h = &p->hits[p->nhits++];
        h->pc = pc;
        h->tid = tid;
        h->bp = b;
        h->lo = lo;
        h->hi = hi;
        h->had_old = bp->have_last;
        h->pool_off = p->pool_used;
        memcpy(p->pool + p->pool_used, bp->last + lo, (size_t)n);
        memcpy(p->pool + p->pool_used + n, bp->cur + lo, (size_t)n);
        p->pool_used += 2 * n;
        memcpy(bp->last + lo, bp->cur + lo, (size_t)n);
        bp->have_last = 1;
    }
}

/* 1 handled (the thread resumed), 0 Python's (nothing changed), 2 Python's with the trampoline
 * under way, -errno the thread cannot be resumed. */
static int page_hit(struct hwdbg_fast_args *a, int tid, int status)
{
    struct hwdbg_page_args *p = a->pages;
    const struct hwdbg_page_insn *insn;
    struct user_regs_struct regs, after;
    unsigned long page, start, end, data[9], pc;
    siginfo_t si;
    int i, prot, st;

    if (!WIFSTOPPED(status) || (status >> 16) != 0 || WSTOPSIG(status) != SIGSEGV || tid != p->tid)
        return 0;
    if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == -1 || si.si_code != 2 /* SEGV_ACCERR */)
        return 0;
    page = (unsigned long)si.si_addr & ~4095UL;
    if ((i = page_lookup(p, page)) < 0)
        return 0;
    prot = p->prots[i];
    start = page;
    end = page + 4096;
    if ((i = page_lookup(p, page - 4096)) >= 0) {  /* a write may cross into a neighbour of ours */
        if (p->prots[i] != prot)
            return 0;
        start -= 4096;
    }
    if ((i = page_lookup(p, page + 4096)) >= 0) {
        if (p->prots[i] != prot)
            return 0;
        end += 4096;
    }
    if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) == -1)
        return 0;
    pc = regs.rip;
    insn = insn_lookup(p, pc);
    if (insn == NULL)
        return 0;
    {
        unsigned char now[16];  /* the code may have changed since (a library unloaded, a JIT) */
        if (pread(a->mem_fd, now, (size_t)insn->len, (off_t)pc) != insn->len || memcmp(now, insn->insn, (size_t)insn->len))
            return 0;
    }
    if (p->loaded_pc != pc) {
        p->loaded_pc = 0;
        if (pwrite(a->mem_fd, insn->code, (size_t)insn->code_len, (off_t)p->area) != insn->code_len)
            return 0;
        p->loaded_pc = pc;
    }
    data[0] = regs.rax; data[1] = regs.rdi; data[2] = regs.rsi;
    data[3] = regs.rdx; data[4] = regs.rcx; data[5] = regs.r11;
    data[6] = start; data[7] = end - start; data[8] = (unsigned long)(prot & ~2 /* PROT_WRITE */);
    if (pwrite(a->mem_fd, data, sizeof data, (off_t)(p->area + 4096)) != (ssize_t)sizeof data)
        return 0;
    after = regs;
    after.rip = p->area;
    after.rax = 10;  /* mprotect */
    after.orig_rax = (unsigned long)-1;
    after.rdi = start;
    after.rsi = end - start;
    after.rdx = (unsigned long)prot;
    if (ptrace(PTRACE_SETREGS, tid, NULL, &after) == -1)
        return 0;
    /* From here on the thread is in the trampoline: any surprise is handed over as such. */
    _Static_assert(sizeof regs == sizeof p->saved, "struct user_regs_struct");
    memcpy(p->saved, &regs, sizeof regs);
    p->start = start;
    p->length = end - start;
    p->prot = prot;
    p->fault_addr = (unsigned long)si.si_addr;
    if (ptrace(PTRACE_CONT, tid, NULL, NULL) == -1 || page_wait(tid, &st) != 0)
        return -ESRCH;  /* gone: Python reads its end */
    if (!WIFSTOPPED(st) || (st >> 16) != 0 || WSTOPSIG(st) != SIGTRAP
            || ptrace(PTRACE_GETREGS, tid, NULL, &after) == -1 || after.rip != p->area + (unsigned long)insn->code_len) {
        a->tid = tid;
        a->status = st;
        return 2;
    }
    if (pread(a->mem_fd, data, 6 * sizeof data[0], (off_t)(p->area + 4096)) != 6 * (ssize_t)sizeof data[0])
        return -EIO;
    after.rax = data[0]; after.rdi = data[1]; after.rsi = data[2];
    after.rdx = data[3]; after.rcx = data[4]; after.r11 = data[5];
    after.rip = pc + (unsigned long)insn->len;
    if (ptrace(PTRACE_SETREGS, tid, NULL, &after) == -1)
        return -errno;
    p->faults++;
    page_compare(p, a->mem_fd, tid, after.rip, page);
    if (ptrace(p->resume_syscall ? PTRACE_SYSCALL : PTRACE_CONT, tid, NULL, NULL) == -1 && errno != ESRCH)
        return -errno;
    return 1;
}

static int cmp_nr(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Under PTRACE_SYSCALL (an attached program, or one started without the filter) every call
 * stops twice; Python's kernelwrites.py does something only at calls that can write user
 * memory (p->wanted_nrs, the numbers the seccomp filter stops at). The two stops of any other
 * call are resumed here, as the filter lets such a call run: otherwise each costs a round
 * trip through Python, and a program whose signal handler runs every 300 µs spent it all on
 * its handler's rt_sigreturn (entry, exit, the signal: three trips), with the next SIGALRM
 * always pending when it returned. 1 resumed, 0 Python's, -errno. */
static int page_syscall(struct hwdbg_fast_args *a, int tid, int status)
{
    struct hwdbg_page_args *p = a->pages;
    struct __ptrace_syscall_info info;
    int nr;

    if (!p->resume_syscall || !WIFSTOPPED(status) || (status >> 16) != 0 || WSTOPSIG(status) != (SIGTRAP | 0x80)
            || tid != p->tid)
        return 0;
    if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof info, &info) <= 0)
        return 0;
    if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
        nr = (int)info.entry.nr;
        if (info.arch != 0xC000003E /* AUDIT_ARCH_X86_64 */ || info.entry.nr > 0x7fffffffUL
                || bsearch(&nr, p->wanted_nrs, (size_t)p->nwanted, sizeof(int), cmp_nr))
            return 0;
        p->passed_tid = tid;  /* its exit stop, the next syscall stop of tid, is passed too */
    } else if (info.op == PTRACE_SYSCALL_INFO_EXIT && p->passed_tid == tid) {
        p->passed_tid = 0;
    } else {
        return 0;
    }
    p->passed++;
    if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) == -1 && errno != ESRCH)
        return -errno;
    return 1;
}
