/* A tiny fixed-capacity key/value cache: the library under test in the hwdbg pytest demo. */
#ifndef CACHE_H
#define CACHE_H

#include <stddef.h>

enum { CACHE_HITS, CACHE_MISSES, CACHE_EVICTIONS, CACHE_NCOUNTERS };

struct cache_config {
    size_t capacity;             /* entries the cache may hold */
    int verbose;
};

struct cache_entry {
    int key;
    int value;
};

struct cache {
    long counters[CACHE_NCOUNTERS];  /* hits, misses, evictions */
    size_t size;                     /* entries in use: only cache_put may change it */
    size_t capacity;
    size_t next_victim;              /* round-robin eviction */
    struct cache_entry *entries;
};

struct cache *cache_new(const struct cache_config *config);
void cache_free(struct cache *cache);
void cache_put(struct cache *cache, int key, int value);
int cache_get(struct cache *cache, int key, int *value);
void cache_stats_reset(struct cache *cache);

#endif
