/* A static executable with thread-locals of different alignments: no dynamic linker, so
 * hwdbg places the TLS block itself (as the loader does); where/small_at are the program's
 * own addresses of its thread-locals, to check hwdbg's against. */
__thread long tcount = 3;
_Thread_local char tpad[40] __attribute__((aligned(64)));
__thread int tsmall = 9;
long *where;
int *small_at;

void stop(void)
{
}

int main(void)
{
    tcount = 5;
    tsmall = 11;
    tpad[1] = 2;
    where = &tcount;
    small_at = &tsmall;
    stop();
    return 0;
}
