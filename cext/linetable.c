/* A unit's line table built from its decoded rows (cext/lineprog.c), for
 * hwdbg/symbols/line_table.py: the same tables its Python builder makes (the reference, kept
 * for a program the C decoder leaves to pyelftools), without a Python object per row; 460,000
 * rows for python3.11d's 84 units behind 151 `break FUNCTION`.
 *
 * Rows are split into sequences at DW_LNE_end_sequence (rows after the last one are dropped).
 * - ranges: [start, end) -> (file, line), the last is_stmt row at an address naming it, sorted
 *   by (start, end, path, line); ranks[file] orders the paths as the strings do;
 * - entries: gdb's line table (dwarf_record_line_p drops a repeated, discriminated line; an
 *   end marker, line 0, file HWDBG_NO_FILE, closes each sequence), sorted by address with an
 *   end marker before a line at its address, stably;
 * - prologue_ends: the addresses marked prologue_end, sorted.
 * A sequence at address 0 (code the linker discarded) gives no ranges nor entries. */

#define HWDBG_NO_FILE 0xffffffffu

struct hwdbg_line_table {
    unsigned long long *starts, *ends; long long *lines; unsigned int *files; long nranges;
    unsigned long long *entry_addrs; long long *entry_lines; unsigned int *entry_files;
    unsigned char *entry_stmts; long nentries;
    unsigned long long *prologue_ends; long nprologue;
};

struct lt_range { unsigned long long start, end; long long line; unsigned int file; int rank; };
struct lt_entry { unsigned long long addr; long long line; unsigned int file; unsigned char stmt; long order; };

static int lt_cmp_range(const void *pa, const void *pb)
{
    const struct lt_range *a = pa, *b = pb;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    return (a->line > b->line) - (a->line < b->line);
}

static int lt_cmp_entry(const void *pa, const void *pb)
{
    const struct lt_entry *a = pa, *b = pb;
    int ma = a->line != 0, mb = b->line != 0;
    if (a->addr != b->addr) return a->addr < b->addr ? -1 : 1;
    if (ma != mb) return ma - mb;
    return (a->order > b->order) - (a->order < b->order);  /* stable, as Python's sort */
}

static int lt_cmp_u64(const void *pa, const void *pb)
{
    unsigned long long a = *(const unsigned long long *)pa, b = *(const unsigned long long *)pb;
    return (a > b) - (a < b);
}

/* Fills t (every array has room for n) from rows[0..n); 0, or -1 when out of memory. */
long hwdbg_line_table(const struct hwdbg_line_row *rows, long n, unsigned int nfiles, const int *ranks,
                      struct hwdbg_line_table *t)
{
    struct lt_range *ranges = malloc(sizeof *ranges * (size_t)(n ? n : 1));
    struct lt_entry *entries = malloc(sizeof *entries * (size_t)(n ? n : 1));
    long nr = 0, ne = 0, np = 0, first = 0;
    if (!ranges || !entries) { free(ranges); free(entries); return -1; }
    for (long last = 0; last < n; last++) {
        if (!rows[last].end_sequence) continue;
        const struct hwdbg_line_row *seq = rows + first;
        long len = last - first + 1;
        first = last + 1;
        for (long i = 0; i < len; i++)
            if (seq[i].prologue_end) t->prologue_ends[np++] = seq[i].address;
        if (seq[0].address == 0) continue;
        /* ranges: a row up to the next address; the last is_stmt row at its address names it */
        int have_stmt = 0;
        unsigned int stmt_file = 0; long long stmt_line = 0; unsigned long long stmt_addr = 0;
        for (long i = 0; i + 1 < len; i++) {
            const struct hwdbg_line_row *row = seq + i;
            if (row->file >= nfiles) continue;
            unsigned int file = row->file; long long line = row->line;
            if (row->is_stmt && row->line > 0) { have_stmt = 1; stmt_file = file; stmt_line = line; stmt_addr = row->address; }
            if (seq[i + 1].address > row->address) {
                if (have_stmt && stmt_addr == row->address) { file = stmt_file; line = stmt_line; }
                ranges[nr++] = (struct lt_range){ row->address, seq[i + 1].address, line, file, ranks[file] };
            }
        }
        /* entries, as gdb records them */
        int have_last = 0, have_line = 0, discriminated = 0;
        unsigned int last_file = 0; long long last_line = 0, line = 0;
        for (long i = 0; i < len; i++) {
            const struct hwdbg_line_row *row = seq + i;
            if (row->end_sequence) {
                entries[ne] = (struct lt_entry){ row->address, 0, HWDBG_NO_FILE, 0, ne }; ne++;
                break;
            }
            if (!have_line || row->line != line) { have_line = 1; line = row->line; discriminated = row->discriminator != 0; }
            else discriminated = discriminated || row->discriminator != 0;
            if (row->file >= nfiles || row->line == 0) continue;
            if (have_last && last_file == row->file && last_line == row->line && discriminated) continue;
            entries[ne] = (struct lt_entry){ row->address, row->line, row->file, row->is_stmt != 0, ne }; ne++;
            have_last = 1; last_file = row->file; last_line = row->line;
        }
    }
    qsort(ranges, (size_t)nr, sizeof *ranges, lt_cmp_range);
    qsort(entries, (size_t)ne, sizeof *entries, lt_cmp_entry);
    qsort(t->prologue_ends, (size_t)np, sizeof *t->prologue_ends, lt_cmp_u64);
    for (long i = 0; i < nr; i++) {
        t->starts[i] = ranges[i].start; t->ends[i] = ranges[i].end;
        t->lines[i] = ranges[i].line; t->files[i] = ranges[i].file;
    }
    for (long i = 0; i < ne; i++) {
        t->entry_addrs[i] = entries[i].addr; t->entry_lines[i] = entries[i].line;
        t->entry_files[i] = entries[i].file; t->entry_stmts[i] = entries[i].stmt;
    }
    t->nranges = nr; t->nentries = ne; t->nprologue = np;
    free(ranges); free(entries);
    return 0;
}

/* The statements gdb 13 finds for `break FILE:LINE` in a unit: symbols/gdb_lines.py's
 * record_sequence over each sequence not at address 0, then its statements(), as
 * (path id, line, address) in no particular order.  ids[file] names a file's path (equal
 * paths, equal ids; -1: no path, or the file number is unknown), 0 <= id < nids. */

struct hwdbg_line_stmt { unsigned long long address; long long line; int id, pad; };

struct ls_entry { unsigned long long address; long long line; unsigned char stmt; };
struct ls_list { struct ls_entry *e; long n, cap; };

/* gdb_lines._record: an end marker (line 0) deletes the entries at its address before it,
 * and is kept only after a line. 0, or -1 when out of memory. */
static int ls_record(struct ls_list *l, unsigned long long address, long long line, int stmt)
{
    if (line == 0) {
        int have = 0; long long last_line = 0;
        while (l->n > 0) {
            have = 1; last_line = l->e[l->n - 1].line;
            if (l->e[l->n - 1].address != address) break;
            l->n--;
        }
        if (!have || last_line == 0) return 0;
    }
    if (l->n == l->cap) {
        long cap = l->cap ? 2 * l->cap : 16;
        struct ls_entry *bigger = realloc(l->e, sizeof *bigger * (size_t)cap);
        if (!bigger) return -1;
        l->e = bigger; l->cap = cap;
    }
    l->e[l->n++] = (struct ls_entry){ address, line, (unsigned char)(stmt != 0) };
    return 0;
}

long hwdbg_line_statements(const struct hwdbg_line_row *rows, long n, unsigned int nfiles, const int *ids, int nids,
                           struct hwdbg_line_stmt *out, long max_out)
{
    struct ls_list *lists = calloc((size_t)(nids > 0 ? nids : 1), sizeof *lists);
    long first = 0, count = 0;
    int failed = 0;
    if (!lists) return -1;
    for (long end = 0; end < n && !failed; end++) {
        if (!rows[end].end_sequence) continue;
        const struct hwdbg_line_row *seq = rows + first;
        long len = end - first + 1;
        first = end + 1;
        if (seq[0].address == 0) continue;  /* code the linker discarded */
        int last_file = -1, have_line = 0, discriminated = 0, have_address = 0, stmt_at_address = 0;
        long long last_line = 0, line = 0;
        unsigned long long last_address = 0;
        for (long i = 0; i < len && !failed; i++) {
            const struct hwdbg_line_row *row = seq + i;
            int file = row->file < nfiles ? ids[row->file] : -1;
            if (!have_line || row->line != line) { have_line = 1; line = row->line; discriminated = row->discriminator != 0; }
            else discriminated = discriminated || row->discriminator != 0;
            if (file >= 0 && file < nids) {
                int changed = last_file != file;
                int ignore = (changed && !row->end_sequence && have_address && last_address == row->address &&
                              !row->is_stmt && stmt_at_address) || (!row->end_sequence && row->line == 0);
                if (((changed && !ignore) || row->end_sequence) && last_file >= 0)
                    failed |= ls_record(&lists[last_file], row->address, 0, 1);
                if (!row->end_sequence && !ignore) {
                    if (changed || row->line != last_line || !discriminated)
                        failed |= ls_record(&lists[file], row->address, row->line, row->is_stmt);
                    last_file = file; last_line = row->line;
                }
            }
            if (!have_address || last_address != row->address) { stmt_at_address = 0; last_address = row->address; have_address = 1; }
            stmt_at_address = stmt_at_address || row->is_stmt;
        }
    }
    for (int id = 0; id < nids; id++) {
        for (long i = 0; i < lists[id].n && !failed; i++) {
            const struct ls_entry *e = &lists[id].e[i];
            if (!e->stmt || e->line == 0) continue;
            if (count == max_out) { failed = 1; break; }
            out[count++] = (struct hwdbg_line_stmt){ e->address, e->line, id, 0 };
        }
        free(lists[id].e);
    }
    free(lists);
    return failed ? -1 : count;
}
