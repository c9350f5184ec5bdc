/* A unit's line-number program run through the DWARF state machine (DWARF 2-5, section
 * 6.2.5), for hwdbg/symbols/line_program.py: one row per state pyelftools' get_entries()
 * reports, so the rows are the same, only made in C.  The header is parsed in Python. */

struct hwdbg_line_params { int min_inst_len, max_ops, default_is_stmt, line_base, line_range, opcode_base; };
struct hwdbg_line_row {
    unsigned long long address;
    long long line;
    unsigned int file, discriminator;
    unsigned char is_stmt, end_sequence, prologue_end, pad;
};

/* Returns the number of rows (at most max_out), or -1 when the program is one this decoder
 * leaves to pyelftools (DW_LNE_define_file, an opcode it does not know) or it is truncated. */
long hwdbg_line_rows(const unsigned char *prog, size_t len, const struct hwdbg_line_params *h,
                     struct hwdbg_line_row *out, long max_out)
{
    struct ds_unit u = { prog, prog + len, 4, 8, 5, 0 };
    struct hwdbg_line_row st;
    long n = 0;
    int max_ops = h->max_ops > 0 ? h->max_ops : 1, op_index = 0;
    if (h->line_range == 0) return -1;
#define LP_RESET() do { memset(&st, 0, sizeof st); st.file = 1; st.line = 1; st.is_stmt = h->default_is_stmt != 0; op_index = 0; } while (0)
#define LP_EMIT() do { if (n == max_out) return -1; out[n++] = st; st.discriminator = 0; st.prologue_end = 0; } while (0)
    LP_RESET();
    while (u.p < u.end && !u.bad) {
        int opcode = *u.p++;
        if (opcode >= h->opcode_base) {
            int adjusted = opcode - h->opcode_base, advance = adjusted / h->line_range;
            st.address += (unsigned long long)h->min_inst_len * ((op_index + advance) / max_ops);
            op_index = (op_index + advance) % max_ops;
            st.line += h->line_base + adjusted % h->line_range;
            LP_EMIT();
        } else if (opcode == 0) {
            unsigned long long size = ds_uleb(&u);
            const unsigned char *next = u.p + size;
            if (size == 0 || size > (unsigned long long)(u.end - u.p)) return -1;
            int ex = *u.p++;
            if (ex == 1) {          /* DW_LNE_end_sequence */
                st.end_sequence = 1; st.is_stmt = 0;
                LP_EMIT();
                LP_RESET();
            } else if (ex == 2) {   /* DW_LNE_set_address */
                st.address = ds_fixed(&u, (int)(size - 1));
            } else if (ex == 4) {   /* DW_LNE_set_discriminator */
                st.discriminator = (unsigned int)ds_uleb(&u);
            } else if (ex == 3) {
                return -1;          /* DW_LNE_define_file: it changes the file table */
            }
            u.p = next;
        } else {
            switch (opcode) {
            case 1: LP_EMIT(); break;                                                /* copy */
            case 2: st.address += ds_uleb(&u) * (unsigned long long)h->min_inst_len; break;  /* advance_pc */
            case 3: st.line += ds_sleb(&u); break;                                  /* advance_line */
            case 4: st.file = (unsigned int)ds_uleb(&u); break;                     /* set_file */
            case 5: ds_uleb(&u); break;                                             /* set_column */
            case 6: st.is_stmt = !st.is_stmt; break;                                /* negate_stmt */
            case 7: break;                                                          /* set_basic_block */
            case 8: st.address += (unsigned long long)((255 - h->opcode_base) / h->line_range) * h->min_inst_len; break;
            case 9: st.address += ds_fixed(&u, 2); break;                           /* fixed_advance_pc */
            case 10: st.prologue_end = 1; break;                                    /* set_prologue_end */
            case 11: break;                                                         /* set_epilogue_begin */
            case 12: ds_uleb(&u); break;                                            /* set_isa */
            default: return -1;
            }
        }
    }
#undef LP_EMIT
#undef LP_RESET
    return u.bad ? -1 : n;
}
