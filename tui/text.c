#include "text.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

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
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = printable_sequence(p);
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
