/* One pass over the top-level DIEs of .debug_info (the children of each unit's DIE),
 * for hwdbg/symbols/index.py: the name index is built from these records.  Only the
 * attributes an index needs are decoded; everything else is skipped by its form. */

#define DS_TAG_VARIABLE 0x34
#define DS_TAG_SUBPROGRAM 0x2e

struct ds_attr { unsigned int name, form; long long implicit; };
struct ds_abbrev { unsigned long code; unsigned int tag; int children; int nattrs; struct ds_attr *attrs; };

struct ds_unit {
    const unsigned char *p, *end;
    int offset_size, address_size, version;
    int bad;
};

static unsigned long long ds_uleb(struct ds_unit *u)
{
    unsigned long long r = 0; int shift = 0;
    while (u->p < u->end) {
        unsigned char b = *u->p++;
        if (shift < 64) r |= (unsigned long long)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) return r;
    }
    u->bad = 1;
    return r;
}

static long long ds_sleb(struct ds_unit *u)
{
    long long r = 0; int shift = 0; unsigned char b = 0;
    while (u->p < u->end) {
        b = *u->p++;
        if (shift < 64) r |= (long long)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    if (shift < 64 && (b & 0x40)) r |= -((long long)1 << shift);
    return r;
}

static unsigned long long ds_fixed(struct ds_unit *u, int n)
{
    unsigned long long r = 0;
    if (u->end - u->p < n) { u->bad = 1; u->p = u->end; return 0; }
    for (int i = 0; i < n; i++) r |= (unsigned long long)u->p[i] << (8 * i);
    u->p += n;
    return r;
}

static void ds_skip(struct ds_unit *u, unsigned long long n)
{
    if ((unsigned long long)(u->end - u->p) < n) { u->bad = 1; u->p = u->end; } else u->p += n;
}

/* Parse one abbreviation table; returns an array indexed by position, sorted by code as written. */
static struct ds_abbrev *ds_abbrevs(const unsigned char *abbrev, size_t len, size_t off, int *count)
{
    struct ds_unit u = { abbrev + off, abbrev + len, 4, 8, 5, 0 };
    int cap = 64, n = 0;
    struct ds_abbrev *t;
    if (off >= len) return NULL;
    t = malloc(cap * sizeof *t);
    if (!t) return NULL;
    for (;;) {
        unsigned long code = ds_uleb(&u);
        if (code == 0 || u.bad) break;
        if (n == cap) {
            struct ds_abbrev *bigger = realloc(t, 2 * cap * sizeof *t);
            if (!bigger) break;
            t = bigger; cap *= 2;
        }
        struct ds_abbrev *a = &t[n];
        a->code = code;
        a->tag = ds_uleb(&u);
        a->children = u.p < u.end ? *u.p++ : 0;
        int acap = 8; a->nattrs = 0;
        a->attrs = malloc(acap * sizeof *a->attrs);
        for (;;) {
            unsigned int name = ds_uleb(&u), form = ds_uleb(&u);
            long long implicit = form == 0x21 ? ds_sleb(&u) : 0;
            if ((name == 0 && form == 0) || u.bad) break;
            if (a->nattrs == acap) { acap *= 2; a->attrs = realloc(a->attrs, acap * sizeof *a->attrs); }
            if (!a->attrs) break;
            a->attrs[a->nattrs].name = name; a->attrs[a->nattrs].form = form;
            a->attrs[a->nattrs].implicit = implicit; a->nattrs++;
        }
        n++;
        if (u.bad) break;
    }
    *count = n;
    return t;
}

static void ds_free(struct ds_abbrev *t, int n)
{
    for (int i = 0; i < n; i++) free(t[i].attrs);
    free(t);
}

static struct ds_abbrev *ds_find(struct ds_abbrev *t, int n, unsigned long code)
{
    if (code >= 1 && code <= (unsigned long)n && t[code - 1].code == code) return &t[code - 1];
    for (int i = 0; i < n; i++) if (t[i].code == code) return &t[i];
    return NULL;
}

/* Read one attribute value: *val gets integers/offsets, *blk/*blen a block's bytes.
 * Returns a class: 0 skipped, 1 constant, 2 address, 3 reference (unit-relative),
 * 4 reference (section), 5 string offset (.debug_str), 6 inline string, 7 block,
 * 8 str index, 9 addr index, 10 line_strp. -1 unknown form. */
static int ds_form(struct ds_unit *u, unsigned int form, long long implicit, unsigned long long *val,
                   const unsigned char **blk, unsigned long long *blen)
{
    *val = 0;
    switch (form) {
    case 0x01: *val = ds_fixed(u, u->address_size); return 2;
    case 0x03: *blen = ds_fixed(u, 2); *blk = u->p; ds_skip(u, *blen); return 7;
    case 0x04: *blen = ds_fixed(u, 4); *blk = u->p; ds_skip(u, *blen); return 7;
    case 0x05: *val = ds_fixed(u, 2); return 1;
    case 0x06: *val = ds_fixed(u, 4); return 1;
    case 0x07: *val = ds_fixed(u, 8); return 1;
    case 0x08: *blk = u->p; while (u->p < u->end && *u->p) u->p++;
               if (u->p < u->end) u->p++; else u->bad = 1; return 6;
    case 0x09: case 0x18: *blen = ds_uleb(u); *blk = u->p; ds_skip(u, *blen); return 7;
    case 0x0a: *blen = ds_fixed(u, 1); *blk = u->p; ds_skip(u, *blen); return 7;
    case 0x0b: *val = ds_fixed(u, 1); return 1;
    case 0x0c: *val = ds_fixed(u, 1); return 1;
    case 0x0d: *val = (unsigned long long)ds_sleb(u); return 1;
    case 0x0e: *val = ds_fixed(u, u->offset_size); return 5;
    case 0x0f: *val = ds_uleb(u); return 1;
    case 0x10: *val = ds_fixed(u, u->version <= 2 ? u->address_size : u->offset_size); return 4;
    case 0x11: *val = ds_fixed(u, 1); return 3;
    case 0x12: *val = ds_fixed(u, 2); return 3;
    case 0x13: *val = ds_fixed(u, 4); return 3;
    case 0x14: *val = ds_fixed(u, 8); return 3;
    case 0x15: *val = ds_uleb(u); return 3;
    case 0x16: { unsigned int real = ds_uleb(u); return ds_form(u, real, 0, val, blk, blen); }
    case 0x17: *val = ds_fixed(u, u->offset_size); return 0;
    case 0x19: *val = 1; return 1;
    case 0x1a: *val = ds_uleb(u); return 8;
    case 0x1b: *val = ds_uleb(u); return 9;
    case 0x1c: ds_skip(u, 4); return 0;
    case 0x1d: ds_skip(u, u->offset_size); return 0;
    case 0x1e: ds_skip(u, 16); return 0;
    case 0x1f: *val = ds_fixed(u, u->offset_size); return 10;
    case 0x20: ds_skip(u, 8); return 0;
    case 0x21: *val = (unsigned long long)implicit; return 1;
    case 0x22: case 0x23: *val = ds_uleb(u); return 0;  /* loclistx, rnglistx */
    case 0x24: ds_skip(u, 8); return 0;
    case 0x25: *val = ds_fixed(u, 1); return 8;
    case 0x26: *val = ds_fixed(u, 2); return 8;
    case 0x27: *val = ds_fixed(u, 3); return 8;
    case 0x28: *val = ds_fixed(u, 4); return 8;
    case 0x29: *val = ds_fixed(u, 1); return 9;
    case 0x2a: *val = ds_fixed(u, 2); return 9;
    case 0x2b: *val = ds_fixed(u, 3); return 9;
    case 0x2c: *val = ds_fixed(u, 4); return 9;
    case 0x1f01: *val = ds_uleb(u); return 9;
    case 0x1f02: *val = ds_uleb(u); return 8;
    case 0x1f20: case 0x1f21: ds_skip(u, u->offset_size); return 0;
    }
    u->bad = 1;
    return -1;
}

static unsigned long long ds_index(const unsigned char *sec, size_t len, unsigned long long base,
                                   unsigned long long index, int size, int *ok)
{
    unsigned long long at = base + index * size, r = 0;
    if (!sec || at + size > len) { *ok = 0; return 0; }
    for (int i = 0; i < size; i++) r |= (unsigned long long)sec[at + i] << (8 * i);
    return r;
}

/* Read the header of the unit at unit_off: u covers the unit's DIEs (u->end its end).
 * Returns -1 when the header is malformed. */
static int ds_open_unit(struct hwdbg_dwarf_sections *s, unsigned long long unit_off, struct ds_unit *u,
                        unsigned long long *abbrev_off)
{
    if (unit_off < s->info_base) return -1;
    u->p = s->info + (unit_off - s->info_base); u->end = s->info + s->info_len; u->bad = 0;
    unsigned long long length = ds_fixed(u, 4);
    u->offset_size = 4;
    if (length == 0xffffffffULL) { length = ds_fixed(u, 8); u->offset_size = 8; }
    if (length > (unsigned long long)(u->end - u->p)) return -1;
    u->end = u->p + length;
    u->version = ds_fixed(u, 2);
    if (u->version >= 5) {
        int unit_type = ds_fixed(u, 1);
        u->address_size = ds_fixed(u, 1);
        *abbrev_off = ds_fixed(u, u->offset_size);
        if (unit_type == 2 || unit_type == 6) ds_skip(u, 8 + u->offset_size);
        else if (unit_type == 4 || unit_type == 5) ds_skip(u, 8);
    } else {
        *abbrev_off = ds_fixed(u, u->offset_size);
        u->address_size = ds_fixed(u, 1);
    }
    if (u->bad || u->version < 2 || u->version > 5 || (u->address_size != 4 && u->address_size != 8)) return -1;
    return 0;
}

/* Scan units from *offset until out is full or the section ends; *offset is left at the
 * first unit not scanned.  Returns the number of records, or -1 when a unit is malformed
 * (its records so far are kept; *offset points at it). */
int hwdbg_dwarf_scan(struct hwdbg_dwarf_sections *s, unsigned long long *offset,
                     struct hwdbg_die_rec *out, int max_out)
{
    int n = 0;
    while (*offset + 11 <= s->info_base + s->info_len) {
        struct ds_unit u;
        unsigned long long unit_off = *offset, abbrev_off;
        if (ds_open_unit(s, unit_off, &u, &abbrev_off) < 0) return -1;
        int nabbrev = 0;
        struct ds_abbrev *abbrevs = ds_abbrevs(s->abbrev, s->abbrev_len, abbrev_off, &nabbrev);
        if (!abbrevs) return -1;
        /* A unit whose records would not fit is left for the next call. */
        int start_n = n, depth = 0;
        unsigned long long str_base = 8, addr_base = 8;
        int ok = 1;
        while (u.p < u.end && !u.bad) {
            unsigned long long die_off = s->info_base + (u.p - s->info);
            unsigned long code = ds_uleb(&u);
            if (code == 0) { if (--depth <= 0) break; continue; }
            struct ds_abbrev *a = ds_find(abbrevs, nabbrev, code);
            if (!a) { ok = 0; break; }
            int top = depth == 1, unit_die = depth == 0;
            int want = top && (a->tag == DS_TAG_VARIABLE || a->tag == DS_TAG_SUBPROGRAM || a->tag == 0x13 ||
                               a->tag == 0x02 || a->tag == 0x17 || a->tag == 0x04 || a->tag == 0x16 || a->tag == 0x24);
            struct hwdbg_die_rec r;
            memset(&r, 0, sizeof r);
            r.name_off = -1;
            unsigned long long sibling = 0, high = 0; int high_is_const = 0, have_low = 0, have_high = 0;
            int name_class = 0, low_class = 0, high_class = 0; unsigned long long name_val = 0;
            for (int i = 0; i < a->nattrs && !u.bad; i++) {
                unsigned long long val; const unsigned char *blk = NULL; unsigned long long blen = 0;
                const unsigned char *before = u.p;
                int cls = ds_form(&u, a->attrs[i].form, a->attrs[i].implicit, &val, &blk, &blen);
                if (cls < 0) { ok = 0; break; }
                unsigned int name = a->attrs[i].name;
                if (unit_die) {
                    if (name == 0x72) str_base = val;
                    else if (name == 0x73) addr_base = val;
                    continue;
                }
                if (name == 0x01 && (cls == 3 || cls == 4)) sibling = cls == 3 ? unit_off + val : val;
                if (!want) continue;
                if (name == 0x03) {
                    name_class = cls; name_val = val;
                    if (cls == 6) name_val = before - s->info;
                } else if (name == 0x3c) r.flags |= 1;
                else if (name == 0x49) r.flags |= 8;
                else if ((name == 0x47 || name == 0x31) && (cls == 3 || cls == 4)) r.origin = cls == 3 ? unit_off + val : val;
                else if (name == 0x11 && (cls == 2 || cls == 9)) { r.value = val; low_class = cls; have_low = 1; }
                else if (name == 0x12) { high = val; high_class = cls; high_is_const = cls == 1; have_high = cls == 1 || cls == 2 || cls == 9; }
                else if (name == 0x02 && cls == 7 && a->tag == DS_TAG_VARIABLE) {
                    if (blen == 1 + (unsigned long long)u.address_size && blk[0] == 0x03) {
                        unsigned long long addr = 0;
                        for (int k = 0; k < u.address_size; k++) addr |= (unsigned long long)blk[1 + k] << (8 * k);
                        r.value = addr; r.flags |= 2;
                    } else if (blen >= 2 && (blk[0] == 0xa1 || blk[0] == 0xfb)) {
                        struct ds_unit e = { blk + 1, blk + blen, 4, 8, 5, 0 };
                        unsigned long long idx = ds_uleb(&e);
                        if (!e.bad && e.p == e.end) { r.value = idx; r.flags |= 2 | 32; }
                    } else if (blen >= 2 && (blk[blen - 1] == 0xe0 || blk[blen - 1] == 0x9b)) {
                        /* a thread-local: DW_OP_const4u/const8u/constu OFFSET, then
                         * DW_OP_GNU_push_tls_address or DW_OP_form_tls_address */
                        int width = blk[0] == 0x0e ? 8 : blk[0] == 0x0c ? 4 : 0;
                        if (width && blen == 2 + (unsigned long long)width) {
                            unsigned long long tls = 0;
                            for (int k = 0; k < width; k++) tls |= (unsigned long long)blk[1 + k] << (8 * k);
                            r.value = tls; r.flags |= 64;
                        } else if (blk[0] == 0x10) {
                            struct ds_unit e = { blk + 1, blk + blen - 1, 4, 8, 5, 0 };
                            unsigned long long tls = ds_uleb(&e);
                            if (!e.bad && e.p == e.end) { r.value = tls; r.flags |= 64; }
                        }
                    }
                }
            }
            if (!ok || u.bad) break;
            if (want) {
                int good = 1;
                if (r.flags & 32) {  /* DW_OP_addrx: resolve through .debug_addr */
                    r.value = ds_index(s->addr, s->addr_len, addr_base, r.value, u.address_size, &good);
                    r.flags &= ~32;
                    if (!good) r.flags &= ~2;
                }
                if (have_low && low_class == 9) { good = 1; r.value = ds_index(s->addr, s->addr_len, addr_base, r.value, u.address_size, &good); if (!good) have_low = 0; }
                if (have_high && high_class == 9) { good = 1; high = ds_index(s->addr, s->addr_len, addr_base, high, u.address_size, &good); if (!good) have_high = 0; }
                if (a->tag == DS_TAG_SUBPROGRAM && have_low && have_high) {
                    r.high = high_is_const ? r.value + high : high;
                    r.flags |= 4;
                }
                if (name_class == 5) { r.name_sec = 1; r.name_off = name_val; }
                else if (name_class == 10) { r.name_sec = 2; r.name_off = name_val; }
                else if (name_class == 6) { r.name_sec = 0; r.name_off = name_val; }
                else if (name_class == 8) {
                    good = 1;
                    unsigned long long o = ds_index(s->str_offsets, s->str_offsets_len, str_base, name_val, u.offset_size, &good);
                    if (good) { r.name_sec = 1; r.name_off = o; }
                }
                if (r.name_off >= 0 || r.origin) {
                    if (n == max_out) { n = start_n; ds_free(abbrevs, nabbrev); return n; }
                    r.offset = die_off; r.cu_offset = unit_off; r.tag = a->tag;
                    out[n++] = r;
                }
            }
            if (a->children) {
                if (top && sibling > die_off && sibling < s->info_base + (u.end - s->info)) {
                    u.p = s->info + (sibling - s->info_base);  /* skip the subtree */
                } else depth++;
            } else if (unit_die) break;  /* a unit without children */
        }
        ds_free(abbrevs, nabbrev);
        if (!ok || u.bad) { n = start_n; return n ? n : -1; }
        *offset = s->info_base + (u.end - s->info);
    }
    return n;
}
