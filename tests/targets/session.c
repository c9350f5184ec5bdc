/* A typical gdb session's program (tests/ui/test_session_gdb_diff.py): a loop, a call, a
   global that changes, output, a normal exit. */
#include <stdio.h>

long total;

int square(int x)
{
    int y = x * x;
    return y;
}

int main(void)
{
    int sum = 0;
    for (int i = 1; i <= 3; i++) {
        sum += square(i);
        total += sum;
    }
    printf("sum = %d\n", sum);
    return 0;
}
