#include "text.h"

#include <stdio.h>
#include <wchar.h>
#include <string.h>

#include "util/utf8.h"

/* Length of a valid, printable UTF-8 sequence at p; 0 if it must be escaped
 * (C0 and C1 controls, DEL, invalid bytes). */
static size_t printable_sequence(const unsigned char *p)
{
    unsigned cp;
    size_t n = utf8_decode(p, &cp);
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) ? 0 : n;
}

void text_escape(const char *s, char *out, size_t cap)
{
    text_escape_for(s, true, out, cap);
}

void text_escape_for(const char *s, bool utf8, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8 || *p < 0x80 ? printable_sequence(p) : 0;
        if (n) {
            if (o + n >= cap)
                break;
            memcpy(out + o, p, n);
            o += n;
            p += n;
        } else {
            if (o + 4 >= cap)
                break;
            snprintf(out + o, 5, "\\x%02x", *p);
            o += 4;
            p++;
        }
    }
    out[o] = '\0';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Bytes and cells of the character at p (a control or invalid byte: 1, 1).
 * A byte text_escape_for wrote as \xNN is one piece of four: a cut never
 * leaves half of one ("\xe2\~83"). */
static size_t char_at(const char *p, int *cells)
{
    if (p[0] == '\\' && p[1] == 'x' && is_hex(p[2]) && is_hex(p[3])) {
        *cells = 4;
        return 4;
    }
    unsigned cp;
    size_t n = utf8_decode((const unsigned char *)p, &cp);
    if (n == 0) {
        *cells = 1;
        return 1;
    }
    int w = wcwidth((wchar_t)cp);
    *cells = w < 0 ? 1 : w;
    return n;
}

int text_width(const char *s)
{
    int total = 0, cells;
    for (const char *p = s; *p; total += cells)
        p += char_at(p, &cells);
    return total;
}

void text_fit(const char *s, int width, bool utf8, enum text_cut where, char *out, size_t cap)
{
    size_t o = 0;
    int used = 0, cells;
    if (width <= 0 || cap == 0) {
        if (cap)
            out[0] = '\0';
        return;
    }
    if (text_width(s) <= width) {
        for (const char *p = s; *p;) {
            size_t n = char_at(p, &cells);
            if (o + n >= cap)
                break;
            memcpy(out + o, p, n);
            o += n, p += n, used += cells;
        }
    } else {
        /* Keep the start and the end (the extension tells files apart). */
        const char *ellipsis = utf8 ? "\xe2\x80\xa6" : "~";
        int head = where == TEXT_CUT_END ? width - 1 : (width - 1) / 2, tail = width - 1 - head;
        const char *p = s;
        while (*p) {
            size_t n = char_at(p, &cells);
            if (used + cells > head || o + n >= cap)
                break;
            memcpy(out + o, p, n);
            o += n, p += n, used += cells;
        }
        size_t el = strlen(ellipsis);
        if (o + el < cap) {
            memcpy(out + o, ellipsis, el);
            o += el, used++;
        }
        /* Find where the last `tail` cells begin. */
        const char *start = s + strlen(s);
        int tail_cells = 0;
        for (const char *q = s; *q;) {
            int total_after = text_width(q);
            if (total_after <= tail) {
                start = q;
                tail_cells = total_after;
                break;
            }
            q += char_at(q, &cells);
        }
        size_t n = strlen(start);
        if (o + n < cap) {
            memcpy(out + o, start, n);
            o += n, used += tail_cells;
        }
    }
    while (used < width && o + 1 < cap)
        out[o++] = ' ', used++;
    out[o] = '\0';
}
