/* Globals of every shape for the symbol tests. Prints its own layout
 * (addresses, sizeof, offsetof) as "key=value" lines, runs a short
 * deterministic program, then exits 0. With argument "wait" it prints
 * "ready" and blocks until stdin closes, so a test can inspect it live. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

char g_char = 'a';
short g_short = -2;
int counter;
long g_long = 1L << 40;
unsigned char g_uchar = 200;
_Bool g_flag = 1;
double g_ratio = 0.5;

struct point {
    int x;
    int y;
};

enum color { RED, GREEN = 5, BLUE = -1 };

struct config {
    int id;
    unsigned int enabled : 1;
    unsigned int mode : 3;
    signed int level : 5;
    struct point origin;
    char name[16];
    enum color color;
    union {
        int i;
        float f;
    } u;
    double ratio;
};

struct config config = {.id = 7, .origin = {1, 2}, .name = "default", .color = GREEN, .ratio = 1.5};
int table[8];
int matrix[3][4];

typedef struct cache cache_t;
struct cache {
    cache_t *next;
    long hits;
    long misses;
};

static struct cache the_cache = {.next = &the_cache};
struct cache *cache = &the_cache;
static int file_static = 42;
typedef unsigned long counter_t;
counter_t typed_counter;
const volatile int cv_int = 7;
int (*callback)(int);

int bump(int by)
{
    counter += by;                                  /* LINE:bump_body */
    return counter;
}

static long sum_table(void)
{
    long total = 0;
    for (int i = 0; i < 8; i++)
        total += table[i];
    return total;
}

#define ADDR(var) printf("addr %s=%p\n", #var, (void *)&(var))
#define SIZE(type) printf("sizeof %s=%zu\n", #type, sizeof(type))
#define OFFSET(type, member) printf("offsetof %s.%s=%zu\n", #type, #member, offsetof(type, member))

int main(int argc, char **argv)
{
    ADDR(counter);
    ADDR(config);
    ADDR(table);
    ADDR(cache);
    ADDR(the_cache);
    ADDR(file_static);
    printf("addr bump=%p\n", (void *)bump);
    SIZE(struct config);
    SIZE(struct point);
    SIZE(struct cache);
    SIZE(enum color);
    OFFSET(struct config, id);
    OFFSET(struct config, origin);
    OFFSET(struct config, origin.y);
    OFFSET(struct config, name);
    OFFSET(struct config, color);
    OFFSET(struct config, u);
    OFFSET(struct config, ratio);
    OFFSET(struct cache, hits);
    OFFSET(struct cache, misses);

    config.enabled = 1;
    config.mode = 5;
    config.level = -3;
    for (int i = 0; i < 8; i++)
        table[i] = i * i;
    callback = bump;
    for (int i = 0; i < 3; i++)
        callback(i + 1);
    the_cache.hits = sum_table();
    file_static += counter;
    typed_counter = (counter_t)counter;
    printf("counter=%d hits=%ld\n", counter, the_cache.hits);

    if (argc > 1 && strcmp(argv[1], "wait") == 0) {
        printf("ready\n");
        fflush(stdout);
        while (getchar() != EOF)
            ;
    }
    return 0;
}
