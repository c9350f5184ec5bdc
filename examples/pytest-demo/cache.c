/* The cache. It has a bug: cache_stats_reset() clears one counter too many and
 * zeroes cache->size, which sits right after the counters. No line here names
 * `size` outside cache_put(), so reading the code will not find it; a hardware
 * watchpoint on cache->size does. */
#include <stdlib.h>

#include "cache.h"

struct cache *cache_new(const struct cache_config *config)
{
    struct cache *cache = calloc(1, sizeof *cache);
    if (cache == NULL)
        return NULL;
    cache->entries = calloc(config->capacity, sizeof *cache->entries);
    if (cache->entries == NULL) {
        free(cache);
        return NULL;
    }
    cache->capacity = config->capacity;
    return cache;
}

void cache_free(struct cache *cache)
{
    free(cache->entries);
    free(cache);
}

static struct cache_entry *find(struct cache *cache, int key)
{
    for (size_t i = 0; i < cache->size; i++)
        if (cache->entries[i].key == key)
            return &cache->entries[i];
    return NULL;
}

void cache_put(struct cache *cache, int key, int value)
{
    struct cache_entry *entry = find(cache, key);
    if (entry == NULL) {
        if (cache->size < cache->capacity) {
            entry = &cache->entries[cache->size];
            cache->size++;
        } else {
            entry = &cache->entries[cache->next_victim];
            cache->next_victim = (cache->next_victim + 1) % cache->capacity;
            cache->counters[CACHE_EVICTIONS]++;
        }
        entry->key = key;
    }
    entry->value = value;
}

int cache_get(struct cache *cache, int key, int *value)
{
    struct cache_entry *entry = find(cache, key);
    if (entry == NULL) {
        cache->counters[CACHE_MISSES]++;
        return 0;
    }
    cache->counters[CACHE_HITS]++;
    *value = entry->value;
    return 1;
}

void cache_stats_reset(struct cache *cache)
{
    for (int i = 0; i <= CACHE_NCOUNTERS; i++)  /* BUG: <= clears one long past the counters */
        cache->counters[i] = 0;
}
