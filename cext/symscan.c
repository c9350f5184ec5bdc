/* Queries over an ELF64 little-endian symbol table (.symtab or .dynsym) without building
 * one: for hwdbg/symbols/elf.py, which decodes and ranks only the few entries found.  A
 * lookup by name or by address is a linear pass, tens of microseconds for 30,000 symbols,
 * where building the whole table in Python costs tens of milliseconds at every start. */

#define SS_ENTRY 24
#define SS_UNDEF 0
#define SS_ABS 0xfff1

static unsigned int ss_u32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (unsigned int)p[3] << 24; }
static unsigned long long ss_u64(const unsigned char *p) { return ss_u32(p) | (unsigned long long)ss_u32(p + 4) << 32; }

/* Entries a table keeps: defined, named, neither STT_SECTION nor STT_FILE. */
static int ss_kept(const unsigned char *e)
{
    unsigned int type = e[4] & 0xf, shndx = e[6] | e[7] << 8;
    return shndx != SS_UNDEF && type != 3 && type != 4 && ss_u32(e) != 0;
}

/* Indices of the entries named ``name`` or ``name@VERSION``; returns how many there are
 * (only the first max_out are stored). */
int hwdbg_sym_named(const unsigned char *syms, size_t syms_len, const char *strtab, size_t strtab_len,
                    const char *name, size_t name_len, int *out, int max_out)
{
    int found = 0;
    for (size_t i = 0; i + SS_ENTRY <= syms_len; i += SS_ENTRY) {
        const unsigned char *e = syms + i;
        unsigned int off = ss_u32(e);
        if (!ss_kept(e) || off >= strtab_len || strtab_len - off <= name_len)
            continue;
        if (memcmp(strtab + off, name, name_len) != 0)
            continue;
        char next = strtab[off + name_len];
        if (next != '\0' && next != '@')
            continue;
        if (found < max_out)
            out[found] = (int)(i / SS_ENTRY);
        found++;
    }
    return found;
}

/* Indices of the functions (kind 1: STT_FUNC, STT_GNU_IFUNC) or data objects (kind 2:
 * STT_OBJECT, STT_COMMON) that start at the highest address <= addr; returns how many. */
int hwdbg_sym_covering(const unsigned char *syms, size_t syms_len, unsigned long long addr, int kind,
                       int *out, int max_out)
{
    unsigned long long best = 0;
    int any = 0, found = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i + SS_ENTRY <= syms_len; i += SS_ENTRY) {
            const unsigned char *e = syms + i;
            unsigned int type = e[4] & 0xf, shndx = e[6] | e[7] << 8;
            int is_func = type == 2 || type == 10, is_object = type == 1 || type == 5;
            if (!ss_kept(e) || shndx == SS_ABS || !(kind == 1 ? is_func : is_object))
                continue;
            unsigned long long value = ss_u64(e + 8);
            if (value > addr)
                continue;
            if (pass == 0) {
                if (!any || value > best)
                    best = value;
                any = 1;
            } else if (value == best) {
                if (found < max_out)
                    out[found] = (int)(i / SS_ENTRY);
                found++;
            }
        }
        if (!any)
            return 0;
    }
    return found;
}
