#include "utf8.h"

size_t utf8_decode(const unsigned char *p, unsigned *cp)
{
    size_t extra;
    unsigned v;
    if (*p < 0x80) { *cp = *p; return 1; }
    if ((*p & 0xE0) == 0xC0) { v = *p & 0x1F; extra = 1; }
    else if ((*p & 0xF0) == 0xE0) { v = *p & 0x0F; extra = 2; }
    else if ((*p & 0xF8) == 0xF0) { v = *p & 0x07; extra = 3; }
    else return 0;
    for (size_t i = 1; i <= extra; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3F);
    }
    static const unsigned min[] = { 0, 0x80, 0x800, 0x10000 };
    if (v < min[extra] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return extra + 1;
}
