/* .debug_aranges decoded (hwdbg/symbols/aranges.py): every (start, length) tuple of every set,
 * as [start, end) and its unit's .debug_info offset, sorted by start (then end, then unit).
 * The same rules as the Python decoder: a set of length 0, or one past the section's end, ends
 * the walk; tuples are aligned to twice the address size from the section's start; a (0, 0)
 * tuple ends its set.  Returns the number of ranges (at most max_out), -1 for a set this
 * decoder cannot read (a segment selector, an address size other than 4 or 8), -2 when the
 * arrays are too small. */
#include <stdlib.h>

struct ar_range { unsigned long long start, end, unit; };

static unsigned long long ar_read(const unsigned char *p, int size, int little)
{
    unsigned long long v = 0;
    for (int i = 0; i < size; i++)
        v |= (unsigned long long)p[little ? i : size - 1 - i] << (8 * i);
    return v;
}

static int ar_compare(const void *a, const void *b)
{
    const struct ar_range *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

long hwdbg_aranges(const unsigned char *data, size_t len, int little, unsigned long long *starts,
                   unsigned long long *ends, unsigned long long *units, long max_out)
{
    struct ar_range *ranges = malloc((max_out ? max_out : 1) * sizeof *ranges);
    if (!ranges) return -2;
    long n = 0;
    size_t offset = 0;
    while (offset + 16 <= len) {
        unsigned long long length = ar_read(data + offset, 4, little), unit;
        size_t pos = offset + 4, offset_size = 4;
        if (length == 0xffffffffULL) {
            if (offset + 12 > len) break;
            length = ar_read(data + pos, 8, little);
            pos += 8;
            offset_size = 8;
        }
        if (length == 0 || length > len - pos) break;
        size_t end = pos + length;
        if (pos + 2 + offset_size + 2 > end) break;
        unit = ar_read(data + pos + 2, (int)offset_size, little);
        pos += 2 + offset_size;
        int address_size = data[pos], segment_size = data[pos + 1];
        pos += 2;
        if (segment_size != 0 || (address_size != 4 && address_size != 8)) { free(ranges); return -1; }
        size_t tuple = 2 * (size_t)address_size;
        pos = (pos + tuple - 1) / tuple * tuple;
        for (; pos + tuple <= end; pos += tuple) {
            unsigned long long start = ar_read(data + pos, address_size, little);
            unsigned long long size = ar_read(data + pos + address_size, address_size, little);
            if (start == 0 && size == 0) break;
            if (n == max_out) { free(ranges); return -2; }
            ranges[n].start = start; ranges[n].end = start + size; ranges[n].unit = unit;
            n++;
        }
        offset = end;
    }
    qsort(ranges, n, sizeof *ranges, ar_compare);
    for (long i = 0; i < n; i++) { starts[i] = ranges[i].start; ends[i] = ranges[i].end; units[i] = ranges[i].unit; }
    free(ranges);
    return n;
}
