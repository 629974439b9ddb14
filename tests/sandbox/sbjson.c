#include "sbjson.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bounded nesting depth keeps a hostile body from exhausting the stack. */
enum { SBJSON_MAX_DEPTH = 64 };

struct cursor {
    const char *p, *end;
    const char *want;     /* remaining dotted path to find, NULL when not searching */
    struct sbjson_value *found;
};

static void skip_space(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool parse_value(struct cursor *c, const char *want, int depth);

static bool parse_literal(struct cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static bool parse_string(struct cursor *c)
{
    if (c->p >= c->end || *c->p != '"')
        return false;
    c->p++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"')
            return true;
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            if (c->p >= c->end)
                return false;
            char e = *c->p++;
            if (e == 'u') {
                for (int i = 0; i < 4; i++)
                    if (c->p >= c->end || hex_digit(*c->p++) < 0)
                        return false;
            } else if (!strchr("\"\\/bfnrt", e)) {
                return false;
            }
        }
    }
    return false;
}

static bool parse_number(struct cursor *c)
{
    const char *s = c->p;
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p >= c->end)
        return false;
    if (*c->p == '0') {
        c->p++;
    } else if (*c->p >= '1' && *c->p <= '9') {
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    } else {
        return false;
    }
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return false;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return false;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    return c->p > s;
}

/* Does the raw key text (between quotes) equal the next path segment? */
static const char *match_segment(const char *want, const char *key, size_t keylen)
{
    if (!want)
        return NULL;
    const char *dot = strchr(want, '.');
    size_t seglen = dot ? (size_t)(dot - want) : strlen(want);
    if (seglen != keylen || memcmp(want, key, keylen) != 0)
        return NULL;
    return dot ? dot + 1 : "";
}

static bool parse_object(struct cursor *c, const char *want, int depth)
{
    c->p++; /* '{' */
    skip_space(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (;;) {
        skip_space(c);
        const char *key = c->p + 1;
        if (!parse_string(c))
            return false;
        size_t keylen = (size_t)(c->p - 1 - key);
        skip_space(c);
        if (c->p >= c->end || *c->p != ':')
            return false;
        c->p++;
        if (!parse_value(c, match_segment(want, key, keylen), depth + 1))
            return false;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return true;
        }
        return false;
    }
}

static bool parse_array(struct cursor *c, const char *want, int depth)
{
    c->p++; /* '[' */
    skip_space(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return true;
    }
    for (size_t i = 0;; i++) {
        char index[24];
        snprintf(index, sizeof index, "%zu", i);
        if (!parse_value(c, match_segment(want, index, strlen(index)), depth + 1))
            return false;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            return true;
        }
        return false;
    }
}

static bool parse_value(struct cursor *c, const char *want, int depth)
{
    if (depth > SBJSON_MAX_DEPTH)
        return false;
    skip_space(c);
    if (c->p >= c->end)
        return false;
    const char *start = c->p;
    enum sbjson_type type;
    bool ok;
    switch (*c->p) {
    case '{': type = SBJSON_OBJECT; ok = parse_object(c, want && *want ? want : NULL, depth); break;
    case '[': type = SBJSON_ARRAY; ok = parse_array(c, want && *want ? want : NULL, depth); break;
    case '"': type = SBJSON_STRING; ok = parse_string(c); break;
    case 't': type = SBJSON_BOOL; ok = parse_literal(c, "true"); break;
    case 'f': type = SBJSON_BOOL; ok = parse_literal(c, "false"); break;
    case 'n': type = SBJSON_NULL; ok = parse_literal(c, "null"); break;
    default: type = SBJSON_NUMBER; ok = parse_number(c); break;
    }
    if (ok && want && *want == '\0' && c->found) {
        c->found->type = type;
        c->found->start = start;
        c->found->len = (size_t)(c->p - start);
    }
    return ok;
}

static bool parse_document(const char *doc, size_t len, const char *path, struct sbjson_value *out)
{
    struct cursor c = { doc, doc + len, path, out };
    if (out)
        out->type = SBJSON_NONE;
    if (!parse_value(&c, path, 0))
        return false;
    skip_space(&c);
    return c.p == c.end;
}

bool sbjson_valid(const char *doc, size_t len)
{
    return parse_document(doc, len, NULL, NULL);
}

bool sbjson_find(const char *doc, size_t len, const char *path, struct sbjson_value *out)
{
    return parse_document(doc, len, path, out) && out->type != SBJSON_NONE;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static unsigned read_hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 4 | (unsigned)hex_digit(p[i]);
    return v;
}

bool sbjson_string(const struct sbjson_value *v, char *out, size_t cap)
{
    if (v->type != SBJSON_STRING || cap == 0)
        return false;
    const char *p = v->start + 1, *end = v->start + v->len - 1;
    size_t n = 0;
    while (p < end) {
        char tmp[4];
        size_t k;
        if (*p != '\\') {
            tmp[0] = *p++;
            k = 1;
        } else {
            char e = p[1];
            p += 2;
            unsigned cp;
            switch (e) {
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                cp = read_hex4(p);
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                        return false;
                    unsigned lo = read_hex4(p + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return false;
                }
                break;
            default: cp = (unsigned char)e; break;
            }
            if (cp == 0)
                return false;
            k = put_utf8(tmp, cp);
        }
        if (n + k >= cap)
            return false;
        memcpy(out + n, tmp, k);
        n += k;
    }
    out[n] = '\0';
    return true;
}

bool sbjson_uint(const struct sbjson_value *v, uint64_t *out)
{
    const char *p = v->start, *end = v->start + v->len;
    if (v->type == SBJSON_STRING) {
        p++;
        end--;
    } else if (v->type != SBJSON_NUMBER) {
        return false;
    }
    if (p == end)
        return false;
    uint64_t n = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *out = n;
    return true;
}

static void buf_reserve(struct sbjson_buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data)
        abort();
    b->cap = cap;
}

void sbjson_buf_free(struct sbjson_buf *b)
{
    free(b->data);
    *b = (struct sbjson_buf){ 0 };
}

void sbjson_append(struct sbjson_buf *b, const char *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sbjson_raw(struct sbjson_buf *b, const char *text)
{
    sbjson_append(b, text, strlen(text));
}

void sbjson_printf(struct sbjson_buf *b, const char *fmt, ...)
{
    /* Format in place; only a long result needs a second pass. */
    buf_reserve(b, 128);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void sbjson_quote(struct sbjson_buf *b, const char *s)
{
    if (!s) {
        sbjson_raw(b, "null");
        return;
    }
    buf_reserve(b, strlen(s) * 6 + 2);
    char *o = b->data + b->len;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = (char)ch;
        } else if (ch < 0x20) {
            o += sprintf(o, "\\u%04x", ch);
        } else {
            *o++ = (char)ch;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->data);
}
