/* Stepping target: steps [threads | long N]. Functions of every return class, recursion, a loop,
   a call through a pointer, calls into libc; "threads": two workers write w1, w2 1000 times each
   while main loops; "long N": busy(N) runs long. Tests find lines by their text. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair { int a; int b; };
struct mixed { double x; long n; };
struct big { long v[5]; };

volatile long shared;

__attribute__((noinline)) int sum_pair(struct pair *p)
{
    return p->a + p->b;
}

__attribute__((noinline)) struct pair make_pair(int a, int b)
{
    struct pair p = {a, b};
    return p;
}

__attribute__((noinline)) struct mixed make_mixed(double x, long n)
{
    struct mixed m;
    m.x = x;
    m.n = n;
    return m;
}

__attribute__((noinline)) struct big make_big(long s)
{
    struct big b;
    for (int i = 0; i < 5; i++)
        b.v[i] = s + i;
    return b;
}

__attribute__((noinline)) double half(double x)
{
    return x / 2;
}

__attribute__((noinline)) float third(float x)
{
    return x / 3;
}

__attribute__((noinline)) char grade(int score)
{
    return score > 50 ? 'P' : 'F';
}

__attribute__((noinline)) _Bool is_even(long n)
{
    return n % 2 == 0;
}

__attribute__((noinline)) const char *name_of(int n)
{
    return n ? "one" : "zero";
}

__attribute__((noinline)) unsigned long long big_unsigned(void)
{
    return 0xfedcba9876543210ULL;
}

__attribute__((noinline)) short negative(void)
{
    return -12;
}

__attribute__((noinline)) void nothing(void)
{
    shared++;
}

__attribute__((noinline)) long fact(long n)
{
    if (n <= 1)
        return 1;
    return n * fact(n - 1);
}

__attribute__((noinline)) int apply(int (*f)(int), int x)
{
    return f(x);
}

__attribute__((noinline)) int square(int x)
{
    int r = x * x;
    return r;
}

__attribute__((noinline)) long loop(int n)
{
    long t = 0;
    for (int i = 0; i < n; i++)
        t += i;
    return t;
}

volatile long w1, w2, spins;
volatile int go;

static void *worker(void *arg)
{
    volatile long *target = arg;
    while (!go)
        ;
    for (long i = 1; i <= 1000; i++) {
        *target = i;
        for (volatile int k = 0; k < 2000; k++)
            ;
    }
    return NULL;
}

__attribute__((noinline)) long busy(long n)
{
    long t = 0;
    for (long i = 0; i < n; i++) t += i ^ shared;  /* one line: next over it runs long */
    return t;
}

static int threads(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, worker, (void *)&w1);
    pthread_create(&b, NULL, worker, (void *)&w2);
    go = 1;  /* go */
    for (int i = 0; i < 50; i++)  /* spin */
        spins += i;
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return w1 + w2 == 2000 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "threads"))
        return threads();
    if (argc > 2 && !strcmp(argv[1], "long")) {
        long r = busy(atol(argv[2]));
        return r == 42 ? 3 : 0;
    }
    struct pair p = make_pair(3, 4);
    int s = sum_pair(&p);
    struct mixed m = make_mixed(1.5, 7);
    struct big b = make_big(10);
    double h = half(5.0);
    float t = third(1.5f);
    char g = grade(70);
    _Bool e = is_even(4);
    const char *n = name_of(1);
    unsigned long long u = big_unsigned();
    short neg = negative();
    nothing();
    long f = fact(5);
    int a = apply(square, 6);
    long l = loop(4);
    printf("%d %g %ld %g %g %c %d %s %llx %d %ld %d %ld\n", s, m.x, b.v[4], h, t, g, e, n, u, neg, f, a, l);
    size_t len = strlen(n);
    return len == 3 ? 0 : 1;
}
