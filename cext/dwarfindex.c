/* The name index packed from the scanner's records (hwdbg/symbols/index.py): one entry per
 * (table, name) -> DIE, sorted by table, then name bytes, then file order, names copied into
 * one blob.  Python bisects it as it is, and the index cache is these bytes on disk, so
 * neither building nor loading an index makes a Python object per name. */

#define DX_VARIABLES 0
#define DX_FUNCTIONS 1
#define DX_TYPES 2
#define DX_TLS 3
#define DX_INLINES 4  /* from hwdbg_inline_scan's records: a copy's entry address (and end, out of line) */

struct dx_key { const unsigned char *p; size_t len; };

static int dx_by_offset(const void *a, const void *b)
{
    unsigned long long x = ((const struct hwdbg_die_rec *)a)->offset, y = ((const struct hwdbg_die_rec *)b)->offset;
    return x < y ? -1 : x > y;
}

/* The name of a record in place (NULL when it has none or it lies outside its section). */
static struct dx_key dx_name(const struct hwdbg_die_rec *r, const unsigned char *const *secs, const size_t *lens)
{
    struct dx_key k = { NULL, 0 };
    if (r->name_off < 0 || r->name_sec < 0 || r->name_sec > 2) return k;
    const unsigned char *data = secs[r->name_sec];
    size_t len = lens[r->name_sec], off = (size_t)r->name_off;
    if (!data || off >= len) return k;
    const unsigned char *end = memchr(data + off, 0, len - off);
    k.p = data + off;
    k.len = end ? (size_t)(end - k.p) : len - off;
    return k;
}

static const struct hwdbg_die_rec *dx_find(const struct hwdbg_die_rec *sorted, long n, unsigned long long off)
{
    long lo = 0, hi = n;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (sorted[mid].offset < off) lo = mid + 1; else hi = mid;
    }
    return lo < n && sorted[lo].offset == off ? &sorted[lo] : NULL;
}

static int dx_compare(const void *a, const void *b, void *blob)
{
    const struct hwdbg_index_entry *x = a, *y = b;
    const unsigned char *dx_blob = blob;
    if (x->table != y->table) return x->table < y->table ? -1 : 1;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(dx_blob + x->key_off, dx_blob + y->key_off, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const char *dx_keyword(int tag)
{
    switch (tag) {
    case 0x13: return "struct ";
    case 0x02: return "class ";
    case 0x17: return "union ";
    case 0x04: return "enum ";
    default: return "";
    }
}

/* Packs n records into out (room for n entries) and keys (keys_cap bytes).  Returns the
 * number of entries, -1 when out of memory, -2 when keys is too small (*keys_used then says
 * how many bytes it needs). */
long hwdbg_index_pack(const struct hwdbg_die_rec *recs, long n,
                      const unsigned char *info, size_t info_len, const unsigned char *str, size_t str_len,
                      const unsigned char *line_str, size_t line_str_len,
                      struct hwdbg_index_entry *out, unsigned char *keys, size_t keys_cap, size_t *keys_used)
{
    const unsigned char *secs[3] = { info, str, line_str };
    size_t lens[3] = { info_len, str_len, line_str_len };
    struct hwdbg_die_rec *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) return -1;
    memcpy(sorted, recs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, dx_by_offset);
    long count = 0;
    size_t used = 0;
    for (long i = 0; i < n; i++) {
        const struct hwdbg_die_rec *r = &recs[i];
        int table;
        if (r->tag == 0x34) {
            if (!(r->flags & (2 | 64))) continue;
            table = r->flags & 2 ? DX_VARIABLES : DX_TLS;
        } else if (r->flags & (128 | 256)) {
            table = DX_INLINES;
        } else if (r->tag == 0x2e) {
            if (!(r->flags & 4)) continue;
            table = DX_FUNCTIONS;
        } else {
            if (r->flags & 1) continue;  /* a declaration */
            table = DX_TYPES;
        }
        struct dx_key name = dx_name(r, secs, lens);
        if (!name.p && table != DX_TYPES) {  /* named by its specification or abstract origin */
            unsigned long long origin = r->origin;
            for (int hop = 0; !name.p && origin && hop < 8; hop++) {
                const struct hwdbg_die_rec *o = dx_find(sorted, n, origin);
                if (!o) break;
                name = dx_name(o, secs, lens);
                origin = o->origin;
            }
        }
        if (!name.p) continue;
        const char *keyword = table == DX_TYPES ? dx_keyword(r->tag) : "";
        size_t kw = strlen(keyword);
        if (used + kw + name.len <= keys_cap) {
            memcpy(keys + used, keyword, kw);
            memcpy(keys + used + kw, name.p, name.len);
        }
        struct hwdbg_index_entry *e = &out[count];
        e->value = r->value;
        e->high = r->high;
        e->cu_offset = r->cu_offset;
        e->offset = r->offset;
        e->key_off = (unsigned int)used;
        e->key_len = (unsigned int)(kw + name.len);
        e->table = table;
        e->seq = (unsigned int)count;
        used += kw + name.len;
        count++;
    }
    free(sorted);
    *keys_used = used;
    if (used > keys_cap || used > 0xffffffffULL) return -2;
    qsort_r(out, count, sizeof *out, dx_compare, keys);
    /* A type keeps its first definition only (the others are the same type, in other units). */
    long kept = 0;
    for (long i = 0; i < count; i++) {
        if (kept && out[i].table == DX_TYPES && out[kept - 1].table == DX_TYPES &&
            out[i].key_len == out[kept - 1].key_len &&
            memcmp(keys + out[i].key_off, keys + out[kept - 1].key_off, out[i].key_len) == 0)
            continue;
        out[kept++] = out[i];
    }
    return kept;
}
