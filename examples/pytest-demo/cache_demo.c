/* The program the tests run: fills the cache, reads from it, resets the statistics, fills it again. */
#include <stdio.h>

#include "cache.h"

struct cache_config config = { .capacity = 4, .verbose = 0 };
struct cache *cache;             /* global, so a test can watch cache->size */

int main(void)
{
    int value = 0;

    cache = cache_new(&config);
    if (cache == NULL)
        return 1;
    for (int key = 1; key <= 3; key++)
        cache_put(cache, key, key * 10);
    cache_get(cache, 2, &value);
    cache_get(cache, 9, &value);
    printf("before reset: size=%zu hits=%ld misses=%ld\n", cache->size,
           cache->counters[CACHE_HITS], cache->counters[CACHE_MISSES]);
    cache_stats_reset(cache);
    cache_put(cache, 4, 40);
    printf("after reset:  size=%zu (expected 4)\n", cache->size);
    cache_free(cache);
    return 0;
}
