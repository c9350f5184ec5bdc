/* Perf-event hardware breakpoints that never stop the thread: counting ones, and sampled ones
 * read from an mmap ring buffer (hwdbg/hw/perftrace.py). Compiled into hwdbg._ptrace by build.py. */
/* The perf breakpoint both kinds below start from: user-mode accesses of [addr, addr + len). */
static void perf_bp_attr(struct perf_event_attr *attr, unsigned long addr, int len, int type)
{
    memset(attr, 0, sizeof *attr);
    attr->type = PERF_TYPE_BREAKPOINT;
    attr->size = sizeof *attr;
    attr->bp_type = (unsigned)type;
    attr->bp_addr = addr;
    attr->bp_len = (unsigned long long)len;
    attr->exclude_kernel = 1;  /* what unprivileged users may ask for; user-mode accesses only */
    attr->exclude_hv = 1;
}

/* A counting (never stopping) hardware breakpoint on one thread: a perf_event_open fd, or -errno.
 * It takes one of the thread's debug-register slots, as a ptrace breakpoint does. */
int hwdbg_perf_bp_open(int tid, unsigned long addr, int len, int type)
{
    struct perf_event_attr attr;
    long fd;
    perf_bp_attr(&attr, addr, len, type);
    fd = syscall(SYS_perf_event_open, &attr, (pid_t)tid, -1, -1, 0UL);
    return fd < 0 ? -errno : (int)fd;
}

/* A sampled breakpoint that never stops the thread: every access becomes a record in an mmap
 * ring (pc, tid, time, and with callchain the user call chain). output_fd >= 0 sends the records
 * to that event's ring (the same thread's other chunk). A fd or -errno. */
int hwdbg_perf_trace_open(int tid, unsigned long addr, int len, int type, int callchain, int output_fd,
                          unsigned int wakeup_bytes)
{
    struct perf_event_attr attr;
    long fd;
    perf_bp_attr(&attr, addr, len, type);
    attr.sample_period = 1;                   /* one record per access */
    attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
    if (callchain) {
        attr.sample_type |= PERF_SAMPLE_CALLCHAIN;
        attr.exclude_callchain_kernel = 1;    /* the user's frames only */
        attr.sample_max_stack = 64;
    }
    attr.disabled = 1;                        /* enabled once its ring is in place */
    attr.watermark = 1;                       /* wake the reader per batch, not per record */
    attr.wakeup_watermark = wakeup_bytes;
    fd = syscall(SYS_perf_event_open, &attr, (pid_t)tid, -1, -1, (unsigned long)PERF_FLAG_FD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (output_fd >= 0 && ioctl((int)fd, PERF_EVENT_IOC_SET_OUTPUT, output_fd) == -1) {
        int err = errno;
        close((int)fd);
        return -err;
    }
    return (int)fd;
}

int hwdbg_ring_map(int fd, int pages, struct hwdbg_ring *ring)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t len = (size_t)(pages + 1) * (size_t)page;
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return -errno;
    ring->base = base;
    ring->map_len = len;
    ring->data_size = ((struct perf_event_mmap_page *)base)->data_size;
    if (ring->data_size == 0)
        ring->data_size = (unsigned long long)pages * (unsigned long long)page;
    return 0;
}

void hwdbg_ring_unmap(struct hwdbg_ring *ring)
{
    if (ring->base)
        munmap(ring->base, ring->map_len);
    ring->base = NULL;
}

static void ring_copy(const unsigned char *data, unsigned long long size, unsigned long long pos,
                      void *dst, size_t n)
{
    unsigned long long off = pos % size;
    size_t first = n;
    if (off + n > size)
        first = (size_t)(size - off);
    memcpy(dst, data + off, first);
    if (first < n)
        memcpy((unsigned char *)dst + first, data, n - first);
}

/* Decodes the records between the ring's tail and head: samples into out (their call chains
 * into ips), PERF_RECORD_LOST counts added to *lost. Stops early when out or ips is full and
 * consumes only what it decoded. The number of samples. */
int hwdbg_ring_read(struct hwdbg_ring *ring, struct hwdbg_sample *out, int max_out,
                    unsigned long long *ips, int max_ips, unsigned long long *lost)
{
    struct perf_event_mmap_page *meta = ring->base;
    const unsigned char *data = (const unsigned char *)ring->base + meta->data_offset;
    unsigned long long size = ring->data_size, head, tail;
    unsigned char rec[65536];
    int n = 0, nips = 0;

    head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    tail = meta->data_tail;
    while (tail < head && n < max_out) {
        struct perf_event_header hdr;
        ring_copy(data, size, tail, &hdr, sizeof hdr);
        if (hdr.size < sizeof hdr)
            break;                                   /* cannot happen; never spin on it */
        ring_copy(data, size, tail, rec, hdr.size);
        if (hdr.type == PERF_RECORD_SAMPLE) {
            const unsigned long long *u = (const unsigned long long *)(rec + sizeof hdr);
            struct hwdbg_sample *s = &out[n];
            s->ip = u[0];
            s->pid = (int)(unsigned int)(u[1] & 0xffffffffu);
            s->tid = (int)(unsigned int)(u[1] >> 32);
            s->time = u[2];
            s->nips = 0;
            s->first = nips;
            if (hdr.size > sizeof hdr + 3 * 8) {     /* PERF_SAMPLE_CALLCHAIN: nr, ips[nr] */
                unsigned long long nr = u[3], i;
                if (nips + (long long)nr > max_ips && n > 0)
                    break;                           /* no room for its chain: the next call */
                for (i = 0; i < nr && nips < max_ips; i++) {
                    if (u[4 + i] >= (unsigned long long)-4095)
                        continue;                    /* PERF_CONTEXT_USER and other markers */
                    ips[nips++] = u[4 + i];
                    s->nips++;
                }
            }
            n++;
        } else if (hdr.type == PERF_RECORD_LOST) {
            const unsigned long long *u = (const unsigned long long *)(rec + sizeof hdr);
            *lost += u[1];                           /* { id, lost } */
        }
        tail += hdr.size;
    }
    __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
    return n;
}
