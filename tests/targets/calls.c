/* Functions for gdb's inferior calls (call f(args), print f(args)): every argument and return
 * class of the SysV x86-64 ABI that hwdbg supports, a void function, a faulting one, a breakpoint
 * inside a called function, and one thread besides main's. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pair { int a; int b; };
struct wide { long x; long y; };
struct mixed { double d; long n; };
struct point { double x; double y; };
struct big { long v[4]; };
struct tiny { char c; short s; };

int counter = 5;
long last_long;
double last_double;
char name[] = "hello";
const char *greeting = "hi there";
struct pair origin = {3, 4};
struct wide span = {-7, 9};
struct big block = {{1, 2, 3, 4}};
volatile int spin = 1;

int add(int a, int b) { return a + b; }
int sq(int x) { return x * x; }
long add_long(long a, long b) { last_long = a + b; return a + b; }
unsigned long add_ulong(unsigned long a, unsigned long b) { return a + b; }
int widths(signed char c, unsigned char uc, short s, unsigned short us, int i, unsigned u, long l, unsigned long ul)
{
    return c + uc + s + us + i + (int)u + (int)l + (int)ul;
}
long eight(long a, long b, long c, long d, long e, long f, long g, long h) { return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h; }
char first_char(const char *s) { return s[0]; }
size_t my_strlen(const char *s) { return strlen(s); }
unsigned char to_uchar(int x) { return (unsigned char)x; }
short to_short(int x) { return (short)x; }
bool is_even(int x) { return x % 2 == 0; }
double half(double x) { return x / 2; }
float scale(float x, int by) { return x * by; }
double mix(int a, double b, float c, long d) { return a + b + c + d; }
double nine_doubles(double a, double b, double c, double d, double e, double f, double g, double h, double i)
{
    return a + b + c + d + e + f + g + h + 2 * i;
}
int *counter_address(void) { return &counter; }
const char *get_greeting(void) { return greeting; }
struct pair make_pair(int a, int b) { struct pair p = {a, b}; return p; }
struct wide make_wide(long x, long y) { struct wide w = {x, y}; return w; }
struct point make_point(double x, double y) { struct point p = {x, y}; return p; }
struct mixed make_mixed(double d, long n) { struct mixed m = {d, n}; return m; }
struct big make_big(long a) { struct big b = {{a, a + 1, a + 2, a + 3}}; return b; }
struct tiny make_tiny(char c, short s) { struct tiny t = {c, s}; return t; }
int pair_sum(struct pair p) { return p.a + p.b; }
long wide_diff(struct wide w) { return w.x - w.y; }
long big_sum(struct big b) { return b.v[0] + b.v[1] + b.v[2] + b.v[3]; }
void bump(int by) { counter += by; }
void set_double(double d) { last_double = d; }
int crash(int *p) { return *p; }
int stopper(int x) { int y = x + 1; return y * 2; }
int (*op)(int, int) = add;
int checkpoint(int v) { return v + 1; }

static void *worker(void *arg)
{
    (void)arg;
    while (spin)
        usleep(1000);
    return NULL;
}

int main(int argc, char **argv)
{
    int x = 7;
    double ratio = 2.5;
    struct pair local = {10, 20};
    const char *word = "local word";
    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    x = checkpoint(x) - 1;
    counter += x;                             /* break here */
    spin = 0;
    pthread_join(thread, NULL);
    printf("%d %d %g %s %d\n", counter, local.a, ratio, word, argc > 1 ? (int)strlen(argv[1]) : 0);
    return 0;
}
