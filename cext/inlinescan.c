/* One pass over every DIE of .debug_info (not only the top-level ones) for
 * hwdbg/symbols/inlines.py: each DW_TAG_inlined_subroutine with the address its code starts
 * at, and each DW_TAG_subprogram and abstract inlined subroutine with its name or origin, so
 * the packer (dwarfindex.c) can name every inlined copy of a function.  gdb puts a location of
 * `break FUNCTION` at each of them.  Uses the reader of dwarfscan.c. */

#define IS_TAG_INLINED 0x1d

struct is_bases { unsigned long long low, addr_base, rnglists_base; int have_low; };

static unsigned long long is_addr(struct hwdbg_dwarf_sections *s, const struct ds_unit *u,
                                  const struct is_bases *b, unsigned long long index, int *ok)
{
    return ds_index(s->addr, s->addr_len, b->addr_base, index, u->address_size, ok);
}

/* The start of the first range of a DW_AT_ranges list that gdb keeps (dwarf2_ranges_process,
 * dwarf2_rnglists_process: empty ranges and ranges starting at 0 are dropped).  Returns 1 and
 * sets [*start, *stop), or 0 when the list has no such range or cannot be read. */
static int is_first_range(struct hwdbg_dwarf_sections *s, const struct ds_unit *unit, const struct is_bases *b,
                          unsigned long long off, int indexed, unsigned long long *start, unsigned long long *stop)
{
    int size = unit->address_size, ok = 1;
    unsigned long long base = b->low, begin, end;
    int have_base = b->have_low;
    if (unit->version < 5) {
        unsigned long long mask = size == 8 ? ~0ULL : 0xffffffffULL;
        if (!s->ranges || off >= s->ranges_len) return 0;
        struct ds_unit r = { s->ranges + off, s->ranges + s->ranges_len, unit->offset_size, size, 4, 0 };
        for (;;) {
            begin = ds_fixed(&r, size); end = ds_fixed(&r, size);
            if (r.bad || (begin == 0 && end == 0)) return 0;
            if ((begin & mask) == mask) { base = end; have_base = 1; continue; }
            if (!have_base || begin > end) return 0;
            if (begin == end || base + begin == 0) continue;
            *start = base + begin; *stop = base + end;
            return 1;
        }
    }
    if (!s->rnglists) return 0;
    if (indexed) {  /* DW_FORM_rnglistx: an index into the offsets after the unit's rnglists_base */
        unsigned long long rel = ds_index(s->rnglists, s->rnglists_len, b->rnglists_base, off,
                                          unit->offset_size, &ok);
        if (!ok) return 0;
        off = b->rnglists_base + rel;
    }
    if (off >= s->rnglists_len) return 0;
    struct ds_unit r = { s->rnglists + off, s->rnglists + s->rnglists_len, unit->offset_size, size, 5, 0 };
    for (;;) {
        int kind = r.p < r.end ? *r.p++ : 0, relative = 0;
        switch (kind) {
        case 1: base = is_addr(s, unit, b, ds_uleb(&r), &ok); have_base = 1; continue;
        case 5: base = ds_fixed(&r, size); have_base = 1; continue;
        case 2: begin = is_addr(s, unit, b, ds_uleb(&r), &ok); end = is_addr(s, unit, b, ds_uleb(&r), &ok); break;
        case 3: begin = is_addr(s, unit, b, ds_uleb(&r), &ok); end = begin + ds_uleb(&r); break;
        case 4: begin = ds_uleb(&r); end = ds_uleb(&r); relative = 1; break;
        case 6: begin = ds_fixed(&r, size); end = ds_fixed(&r, size); break;
        case 7: begin = ds_fixed(&r, size); end = begin + ds_uleb(&r); break;
        default: return 0;  /* DW_RLE_end_of_list, or not a range list */
        }
        if (r.bad || !ok || begin > end) return 0;
        if (begin == end) continue;
        if (relative) {
            if (!have_base) return 0;
            begin += base; end += base;
        }
        if (begin == 0) continue;
        *start = begin; *stop = end;
        return 1;
    }
}

/* Scan units from *offset until out is full or the section ends, as hwdbg_dwarf_scan does
 * (the same return values).  An inlined subroutine with code has flag 128 and its entry
 * address (gdb 13's BLOCK_ENTRY_PC: low_pc, or the start of its first range) in value; a
 * subprogram with code and an abstract origin has flag 256, and the end of that range in high. */
int hwdbg_inline_scan(struct hwdbg_dwarf_sections *s, unsigned long long *offset,
                      struct hwdbg_die_rec *out, int max_out)
{
    int n = 0;
    while (*offset + 11 <= s->info_base + s->info_len) {
        struct ds_unit u;
        unsigned long long unit_off = *offset, abbrev_off;
        if (ds_open_unit(s, unit_off, &u, &abbrev_off) < 0) return n ? n : -1;
        int nabbrev = 0;
        struct ds_abbrev *abbrevs = ds_abbrevs(s->abbrev, s->abbrev_len, abbrev_off, &nabbrev);
        if (!abbrevs) return n ? n : -1;
        int start_n = n, depth = 0, ok = 1, low_class = 0;
        unsigned long long str_base = 8;
        struct is_bases b = { 0, 8, 12, 0 };
        while (u.p < u.end && !u.bad) {
            unsigned long long die_off = s->info_base + (u.p - s->info);
            unsigned long code = ds_uleb(&u);
            if (code == 0) { if (--depth <= 0) break; continue; }
            struct ds_abbrev *a = ds_find(abbrevs, nabbrev, code);
            if (!a) { ok = 0; break; }
            int unit_die = depth == 0;
            int want = a->tag == IS_TAG_INLINED || a->tag == DS_TAG_SUBPROGRAM;
            struct hwdbg_die_rec r;
            memset(&r, 0, sizeof r);
            r.name_off = -1;
            unsigned long long low = 0, high = 0, ranges = 0, name_val = 0;
            int have_low = 0, high_class = 0, name_class = 0, ranges_form = 0, lclass = 0, linkage = 0, abstract = 0;
            for (int i = 0; i < a->nattrs && !u.bad; i++) {
                unsigned long long val; const unsigned char *blk = NULL; unsigned long long blen = 0;
                const unsigned char *before = u.p;
                int cls = ds_form(&u, a->attrs[i].form, a->attrs[i].implicit, &val, &blk, &blen);
                if (cls < 0) { ok = 0; break; }
                unsigned int name = a->attrs[i].name;
                if (unit_die) {
                    if (name == 0x72) str_base = val;
                    else if (name == 0x73) b.addr_base = val;
                    else if (name == 0x74) b.rnglists_base = val;
                    else if (name == 0x11 && (cls == 2 || cls == 9)) { b.low = val; b.have_low = 1; low_class = cls; }
                    continue;
                }
                if (!want) continue;
                /* gdb names a C function by DW_AT_linkage_name when it has one (__GI__IO_setb). */
                if (name == 0x03 && !linkage) { name_class = cls; name_val = cls == 6 ? (unsigned long long)(before - s->info) : val; }
                else if (name == 0x6e || name == 0x2007) {
                    linkage = 1; name_class = cls; name_val = cls == 6 ? (unsigned long long)(before - s->info) : val;
                }
                else if ((name == 0x31 || name == 0x47) && (cls == 3 || cls == 4)) {
                    r.origin = cls == 3 ? unit_off + val : val;
                    abstract = name == 0x31;
                }
                else if (name == 0x11 && (cls == 2 || cls == 9)) { low = val; lclass = cls; have_low = 1; }
                else if (name == 0x12 && (cls == 1 || cls == 2 || cls == 9)) { high = val; high_class = cls; }
                else if (name == 0x55) { ranges = val; ranges_form = a->attrs[i].form; }
            }
            if (!ok || u.bad) break;
            if (unit_die && low_class == 9) {
                int good = 1;
                b.low = is_addr(s, &u, &b, b.low, &good);
                b.have_low = good;
            }
            if (want) {
                int good = 1;
                if (have_low && lclass == 9) low = is_addr(s, &u, &b, low, &good);
                if (high_class == 9) high = is_addr(s, &u, &b, high, &good);
                if (high_class == 1) high += low;
                /* An inlined copy, or an out-of-line one made from an abstract instance
                 * (the function itself where it is also inlined, or a .part/.isra clone). */
                if (a->tag == IS_TAG_INLINED || abstract) {
                    unsigned long long start = 0, stop = 0;
                    if (have_low && high_class && good) {
                        if (low != 0 && high > low) { start = low; stop = high; }
                    } else if (ranges_form) {
                        is_first_range(s, &u, &b, ranges, ranges_form == 0x23, &start, &stop);
                    }
                    if (start) {
                        r.value = start; r.flags |= a->tag == IS_TAG_INLINED ? 128 : 256;
                        if (a->tag != IS_TAG_INLINED) r.high = stop;
                    }
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
                    if (n == max_out) { ds_free(abbrevs, nabbrev); return start_n; }
                    r.offset = die_off; r.cu_offset = unit_off; r.tag = a->tag;
                    out[n++] = r;
                }
            }
            if (a->children) depth++;
            else if (unit_die) break;  /* a unit without children */
        }
        ds_free(abbrevs, nabbrev);
        if (!ok || u.bad) return start_n ? start_n : -1;
        *offset = s->info_base + (u.end - s->info);
    }
    return n;
}
