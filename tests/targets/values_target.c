/* Values and types for the ptype/whatis/print/sizeof/list tests against gdb. */
#include <stdint.h>
#include <string.h>

enum color { RED, GREEN = 4, BLUE };
typedef enum { OFF, ON } switch_t;
enum perms { P_READ = 1, P_WRITE = 2, P_EXEC = 4 };  /* a flag enum, to gdb */

struct pair {
    int x;
    long y;
};
typedef struct pair pair_t;

union number {
    int i;
    float f;
    unsigned char bytes[4];
};

struct node {
    int value;
    struct node *next;
    char name[8];
    enum color color;
    pair_t pair;
    int (*op)(int, int);
    unsigned int flag : 1;
    unsigned int mode : 3;
    union {
        short s;
        char c;
    } u;
    double ratio;
};

typedef int (*binop_t)(int, int);
typedef unsigned long counter_t;

int arr[6] = {1, 2, 3, 4, 5, 6};
short grid[2][3] = {{1, 2, 3}, {4, 5, 6}};
char greeting[] = "hello";
const char *message = "world";
struct pair pairs[3] = {{1, 10}, {2, 20}, {3, 30}};
pair_t origin = {-1, -2};
union number num = {.i = 0x41424344};
enum color favourite = BLUE;
switch_t power = ON;
enum perms perm = P_READ | P_WRITE;
struct node nodes[2];
struct node *head = &nodes[0];
binop_t adder;
counter_t ticks = 123456789;
uint8_t small = 200;
int64_t big = -5;
float ratio = 1.5f;
double scale = -2.25;
void *opaque = &arr[2];
_Bool flag_b = 1;
unsigned char raw[4] = {0xde, 0xad, 0xbe, 0xef};
int *ptrs[2] = {&arr[0], &arr[5]};
int (*rowp)[3];

static int add(int a, int b)
{
    return a + b;
}

int scale_all(int *values, int count, int by)
{
    int total = 0;
    for (int i = 0; i < count; i++) {
        values[i] *= by;
        total += values[i];
    }
    return total;
}

void checkpoint(void)
{
}

int main(void)
{
    adder = add;
    nodes[0].value = 10;
    nodes[0].next = &nodes[1];
    strcpy(nodes[0].name, "first");
    nodes[0].color = GREEN;
    nodes[0].pair.x = 7;
    nodes[0].pair.y = 70;
    nodes[0].op = add;
    nodes[0].flag = 1;
    nodes[0].mode = 5;
    nodes[0].u.s = 300;
    nodes[0].ratio = 0.5;
    nodes[1].value = 20;
    strcpy(nodes[1].name, "second");
    nodes[1].color = RED;
    rowp = (int (*)[3])arr;
    checkpoint();
    scale_all(arr, 6, 2);
    checkpoint();
    return 0;
}
