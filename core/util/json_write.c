#include "json_write.h"

#include "utf8.h"

/* Length of the valid UTF-8 sequence at p, or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *p)
{
    unsigned cp;
    return utf8_decode(p, &cp);
}

bool json_utf8_valid(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_sequence(p);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

static bool append_escaped(struct buf *b, const char *s, bool lossy)
{
    if (!buf_puts(b, "\""))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_sequence(p);
        bool ok;
        if (n == 0) {
            if (!lossy)
                return false;
            ok = buf_puts(b, "\\ufffd");
            n = 1;
        } else if (*p == '"') {
            ok = buf_puts(b, "\\\"");
        } else if (*p == '\\') {
            ok = buf_puts(b, "\\\\");
        } else if (*p == '\n') {
            ok = buf_puts(b, "\\n");
        } else if (*p == '\t') {
            ok = buf_puts(b, "\\t");
        } else if (*p < 0x20 || *p == 0x7F) {
            ok = buf_printf(b, "\\u%04x", *p);
        } else {
            ok = buf_append(b, p, n);
        }
        if (!ok)
            return false;
        p += n;
    }
    return buf_puts(b, "\"");
}

bool json_append_string(struct buf *b, const char *s)
{
    return json_utf8_valid(s) && append_escaped(b, s, false);
}

bool json_append_string_lossy(struct buf *b, const char *s)
{
    return append_escaped(b, s, true);
}

bool json_append_string_or_null(struct buf *b, const char *s)
{
    return s[0] ? append_escaped(b, s, true) : buf_puts(b, "null");
}
