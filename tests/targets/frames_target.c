/* Frames, locals and arguments: nested blocks with shadowing, recursion, struct arguments,
   a static local, and a local to watch (tests/ui/test_ui_frames*.py, tests/core/test_frames_api.py). */
#include <stdio.h>

struct pair {
    long a;
    long b;
};

int counter; /* a global the functions write, so nothing is folded away */

__attribute__((noinline)) long sum_pair(struct pair *p, int scale)
{
    long s = p->a + p->b;
    for (int i = 0; i < 3; i++) {
        long t = s * i + scale;
        s += t;
        {
            int s = i * 2; /* shadows the outer s */
            counter += s; /* inner block */
        }
    }
    return s;
}

__attribute__((noinline)) int fact(int n)
{
    int r = 1;
    if (n > 1)
        r = n * fact(n - 1);
    counter += r; /* after the recursion */
    return r;
}

__attribute__((noinline)) int by_value(struct pair pr, double d, char c)
{
    static int calls;
    calls++;
    counter += calls; /* by_value body */
    return (int)(pr.a + pr.b + d) + c + calls;
}

__attribute__((noinline)) int accumulate(int n)
{
    int total = 0;
    for (int k = 1; k <= n; k++)
        total += k * k;
    counter += total; /* accumulate done */
    return total;
}

int main(int argc, char **argv)
{
    struct pair pr = {argc, 2};
    long result = 0;
    result += sum_pair(&pr, argc + 1);
    result += fact(argc + 3);
    result += by_value(pr, 1.5, 'x');
    result += accumulate(argc + 4);
    printf("%ld %d %s\n", result, counter, argv[0] ? "ok" : "");
    return 0;
}
