/* A thread blocked in a system call whose buffers lie in a page-watched array (an iovec
 * array and its buffers, a msghdr with its name and control buffers, two mmsghdrs, select's fd set,
 * ppoll's pollfd array, wait4's status and rusage) while the main thread, having seen it blocked
 * (/proc/self/task/TID/syscall), writes other bytes of the same page `rounds` times, then
 * wakes it. Then fixed-size outputs into the array (fstat, getrlimit, uname, getresuid,
 * pipe2), process_vm_readv into its iovecs, and calls that fail. Prints each call's result, errno and a hash of the bytes it
 * wrote, to compare with a run without a debugger. Usage: page_block_calls MODE ROUNDS. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

__attribute__((aligned(4096))) char big[65536];
static int fds[2], sv[2];
static pid_t child;
static volatile pid_t worker_tid;
static const char *mode;

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void b_write(long i, char c) { big[2048 + i] = c; }

static unsigned long hash(const void *p, size_t n)
{
    unsigned long h = 1469598103934665603UL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211UL;
    return h;
}

static void show(const char *what, long ret, const void *p, size_t n)
{
    printf("%s=%ld errno=%d hash=%016lx\n", what, ret, ret < 0 ? errno : 0, hash(p, n));
}

static long blocked_nr(pid_t tid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long nr = fgets(line, sizeof line, f) != NULL ? strtol(line, NULL, 10) : -1;
    fclose(f);
    return nr;
}

static struct iovec *iov_in_big(void)
{
    struct iovec *iov = (struct iovec *)(big + 64);
    iov[0] = (struct iovec){big + 100, 50};
    iov[1] = (struct iovec){NULL, 0};
    iov[2] = (struct iovec){big + 5000, 300};
    return iov;
}

static void *worker(void *arg)
{
    (void)arg;
    worker_tid = (pid_t)syscall(SYS_gettid);
    long ret;
    errno = 0;
    if (strcmp(mode, "readv") == 0) {
        ret = readv(fds[0], iov_in_big(), 3);
        show("readv", ret, big + 100, 50);
        show("readv2", ret, big + 5000, 300);
    } else if (strcmp(mode, "preadv2") == 0) {
        ret = preadv2(fds[0], iov_in_big(), 3, -1, 0);
        show("preadv2", ret, big + 100, 50);
        show("preadv2b", ret, big + 5000, 300);
    } else if (strcmp(mode, "recvmsg") == 0) {
        struct msghdr *m = (struct msghdr *)(big + 512);
        m->msg_name = big + 700;
        m->msg_namelen = 110;
        m->msg_iov = iov_in_big();
        m->msg_iovlen = 3;
        m->msg_control = big + 900;
        m->msg_controllen = 2 * CMSG_SPACE(sizeof(int));
        m->msg_flags = -1;
        ret = recvmsg(sv[0], m, 0);
        struct cmsghdr *c = CMSG_FIRSTHDR(m);
        printf("namelen=%u controllen=%zu flags=%d cmsg=%d/%d/%zu\n", m->msg_namelen, m->msg_controllen,
               m->msg_flags, c ? c->cmsg_level : -1, c ? c->cmsg_type : -1, c ? c->cmsg_len : 0);
        show("recvmsg", ret, big + 100, 50);
        show("recvdata", ret, big + 5000, 300);
    } else if (strcmp(mode, "select") == 0) {
        fd_set *set = (fd_set *)(big + 1024);
        FD_ZERO(set);
        FD_SET(fds[0], set);
        FD_SET(fds[1], set);  /* the write end: never readable, its bit cleared */
        ret = select(fds[1] + 1, set, NULL, NULL, NULL);
        printf("select=%ld errno=%d bits=%d%d\n", ret, ret < 0 ? errno : 0, FD_ISSET(fds[0], set) != 0,
               FD_ISSET(fds[1], set) != 0);
    } else if (strcmp(mode, "recvmmsg") == 0) {
        struct mmsghdr *mm = (struct mmsghdr *)(big + 3000);
        struct iovec *iov = (struct iovec *)(big + 3200);
        iov[0] = (struct iovec){big + 100, 50};
        iov[1] = (struct iovec){big + 5000, 300};
        iov[2] = (struct iovec){big + 5400, 20};
        iov[3] = (struct iovec){big + 5500, 100};
        for (int i = 0; i < 2; i++)
            mm[i] = (struct mmsghdr){{big + 700 + 128 * i, 110, iov + 2 * i, 2, big + 1100 + 64 * i,
                                      2 * CMSG_SPACE(sizeof(int)), -1}, 12345};
        ret = recvmmsg(sv[0], mm, 2, 0, NULL);
        for (int i = 0; i < 2; i++) {
            struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr);
            printf("len=%u namelen=%u controllen=%zu flags=%d cmsg=%d/%d\n", mm[i].msg_len,
                   mm[i].msg_hdr.msg_namelen, mm[i].msg_hdr.msg_controllen, mm[i].msg_hdr.msg_flags,
                   c ? c->cmsg_level : -1, c ? c->cmsg_type : -1);
        }
        show("recvmmsg", ret, big + 100, 50);
        show("recvmdata", ret, big + 5000, 700);
    } else if (strcmp(mode, "wait4") == 0) {
        int *status = (int *)(big + 1500);
        struct rusage *ru = (struct rusage *)(big + 1600);
        ret = wait4(child, status, 0, ru);
        printf("wait4=%d errno=%d status=%#x\n", ret == child, ret < 0 ? errno : 0, *status);
    } else if (strcmp(mode, "ppoll") == 0) {
        struct pollfd *p = (struct pollfd *)(big + 1300);
        p[0] = (struct pollfd){fds[0], POLLIN, 0x7777};
        p[1] = (struct pollfd){fds[1], POLLIN, 0x7777};
        ret = ppoll(p, 2, NULL, NULL);
        printf("ppoll=%ld errno=%d revents=%x,%x\n", ret, ret < 0 ? errno : 0, p[0].revents, p[1].revents);
    }
    struct iovec *iov = (struct iovec *)(big + 64);
    printf("iov=%d\n", iov[0].iov_base == big + 100 && iov[0].iov_len == 50 && iov[1].iov_base == NULL
           && iov[2].iov_base == big + 5000 && iov[2].iov_len == 300);
    return NULL;
}

static void fixed_outputs(void)
{
    struct stat *st = (struct stat *)(big + 8192);
    errno = 0;
    long ret = fstat(fds[0], st);
    printf("fstat=%ld mode=%o\n", ret, st->st_mode);
    ret = getrlimit(RLIMIT_NOFILE, (struct rlimit *)(big + 8400));  /* prlimit64 */
    show("getrlimit", ret, big + 8400, 16);
    ret = uname((struct utsname *)(big + 8500));
    show("uname", ret, big + 8500, sizeof(struct utsname));
    uid_t *ids = (uid_t *)(big + 9000);
    ret = getresuid(ids, ids + 1, ids + 2);
    show("getresuid", ret, ids, 12);
    int *two = (int *)(big + 9100);
    ret = pipe2(two, 0);
    printf("pipe2=%ld fresh=%d\n", ret, two[0] > 2 && two[1] > two[0]);
    errno = 0;
    ret = fstat(1000, st);
    printf("badfstat=%ld errno=%d\n", ret, errno);
    errno = 0;
    ret = readv(1000, iov_in_big(), 3);
    printf("badreadv=%ld errno=%d\n", ret, errno);
    errno = 0;
    ret = preadv(fds[0], iov_in_big(), 3, 0);
    printf("preadv=%ld errno=%d\n", ret, errno);
    static char source[330];  /* process_vm_readv from ourselves: the local iovecs in big */
    for (int i = 0; i < 330; i++)
        source[i] = (char)(i * 7 + 3);
    struct iovec remote[2] = {{source, 200}, {source + 250, 80}};
    ret = process_vm_readv(getpid(), iov_in_big(), 3, remote, 2, 0);
    show("vm_readv", ret, big + 100, 50);
    show("vm_readv2", ret, big + 5000, 300);
    errno = 0;
    remote[1].iov_base = NULL;  /* a partial read: what came before the bad remote range */
    for (int i = 0; i < 330; i++)
        source[i] ^= 0x55;
    ret = process_vm_readv(getpid(), iov_in_big(), 3, remote, 2, 0);
    show("vm_readv_part", ret, big + 5000, 300);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    mode = argv[1];
    long rounds = atol(argv[2]);
    long want = strcmp(mode, "readv") == 0 ? SYS_readv : strcmp(mode, "preadv2") == 0 ? SYS_preadv2
              : strcmp(mode, "recvmsg") == 0 ? SYS_recvmsg : strcmp(mode, "ppoll") == 0 ? SYS_ppoll
              : strcmp(mode, "wait4") == 0 ? SYS_wait4 : strcmp(mode, "recvmmsg") == 0 ? SYS_recvmmsg : -2;
    memset(big, 'x', sizeof big);
    if (pipe(fds) != 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
        return 2;
    if (strcmp(mode, "wait4") == 0) {  /* a child that exits (7) once it reads a byte */
        child = fork();
        if (child == 0) {
            char c;
            _exit(read(fds[0], &c, 1) == 1 ? 7 : 1);
        }
    }
    ready();
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    for (;;) {
        long nr = worker_tid ? blocked_nr(worker_tid) : -1;
        if (nr == want || (want == -2 && (nr == SYS_select || nr == SYS_pselect6)))
            break;
        usleep(1000);
    }
    for (long i = 0; i < rounds; i++)
        b_write(i, (char)(i % 250 + 1));
    char data[280];
    for (int i = 0; i < 280; i++)
        data[i] = (char)('A' + i % 26);
    if (strcmp(mode, "recvmsg") == 0 || strcmp(mode, "recvmmsg") == 0) {
        struct iovec v = {data, sizeof data};
        union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
        struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fds[1], sizeof(int));
        if (sendmsg(sv[1], &m, 0) != (ssize_t)sizeof data || send(sv[1], data + 7, 40, 0) != 40)
            return 3;
    } else if (write(fds[1], data, sizeof data) != (ssize_t)sizeof data) {
        return 3;
    }
    pthread_join(t, NULL);
    fixed_outputs();
    return 0;
}
