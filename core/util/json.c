#include "json.h"

#include "utf8.h"

#include <stdlib.h>
#include <string.h>

#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

/* jsmntok_t under a name of ours, so json.h need not include jsmn.h. */
struct json_token {
    jsmntok_t t;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The token's text, quotes included for strings. */
static int text_start(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? t->start - 1 : t->start;
}

static int text_end(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

/* doc[from, to) is white space around exactly one sep (or only white space when sep is 0). */
static bool gap_is(const char *doc, int from, int to, char sep)
{
    bool seen = false;
    for (int i = from; i < to; i++) {
        if (is_space(doc[i]))
            continue;
        if (doc[i] != sep || seen)
            return false;
        seen = true;
    }
    return seen == (sep != 0);
}

static bool valid_primitive(const char *p, const char *end)
{
    size_t n = (size_t)(end - p);
    if ((n == 4 && !memcmp(p, "true", 4)) || (n == 5 && !memcmp(p, "false", 5)) || (n == 4 && !memcmp(p, "null", 4)))
        return true;
    if (p < end && *p == '-')
        p++;
    if (p == end || *p < '0' || *p > '9')
        return false;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9') p++;
    if (p < end && *p == '.') {
        if (++p == end || *p < '0' || *p > '9') return false;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || *p < '0' || *p > '9') return false;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    return p == end;
}

/* jsmn finds tokens but lets trailing or missing commas and misspelt
 * literals through. One linear pass over the tokens checks what lies
 * between siblings, the keys, and every primitive. */
static bool validate(const char *doc, const jsmntok_t *t, int n)
{
    int *last_end = malloc((size_t)n * sizeof *last_end), *children = calloc((size_t)n, sizeof *children);
    bool ok = last_end && children;
    for (int i = 0; ok && i < n; i++) {
        last_end[i] = t[i].start + 1;
        if (t[i].type == JSMN_PRIMITIVE && !valid_primitive(doc + t[i].start, doc + t[i].end))
            ok = false;
        int p = t[i].parent;
        if (!ok || p < 0)
            continue;
        if (t[p].type == JSMN_STRING) {
            /* A value: jsmn makes its key the parent; the object is the key's parent. */
            ok = gap_is(doc, text_end(&t[p]), text_start(&t[i]), ':');
            last_end[t[p].parent] = text_end(&t[i]);
            continue;
        }
        bool object = t[p].type == JSMN_OBJECT;
        if ((object && (t[i].type != JSMN_STRING || t[i].size != 1)) ||
            !gap_is(doc, last_end[p], text_start(&t[i]), children[p] ? ',' : 0))
            ok = false;
        last_end[p] = text_end(&t[i]);
        children[p]++;
    }
    for (int i = 0; ok && i < n; i++)
        if (t[i].type == JSMN_OBJECT || t[i].type == JSMN_ARRAY)
            ok = gap_is(doc, last_end[i], t[i].end - 1, 0);
    free(last_end);
    free(children);
    return ok;
}

/* jsmn finds the open container for a closing bracket by walking up from
 * the last token, so its cost grows with the nesting depth at every bracket:
 * a server's 1 MiB of "[[[[" took minutes. Nothing vimeo-up reads is nested
 * deeper than a few levels, so one linear scan refuses deeper documents
 * before jsmn sees them. */
static bool depth_within(const char *doc, size_t len, int max)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = doc[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

bool json_parse(struct json *j, const char *doc, size_t len)
{
    *j = (struct json){ .doc = doc, .len = len };
    if (!depth_within(doc, len, JSON_DEPTH_MAX))
        return false;
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, doc, len, NULL, 0);
    if (n <= 0 || n > JSON_TOKENS_MAX)
        return false;
    jsmntok_t *tokens = calloc((size_t)n, sizeof *tokens);
    if (!tokens)
        return false;
    jsmn_init(&p);
    if (jsmn_parse(&p, doc, len, tokens, (unsigned)n) != n) {
        free(tokens);
        return false;
    }
    /* One root value, nothing after it but white space, and valid inside. */
    int end = text_end(&tokens[0]);
    if (tokens[0].start < 0 || !gap_is(doc, end, (int)len, 0) || !gap_is(doc, 0, text_start(&tokens[0]), 0) ||
        !validate(doc, tokens, n)) {
        free(tokens);
        return false;
    }
    j->tokens = (struct json_token *)tokens;
    j->count = n;
    return true;
}

void json_free(struct json *j)
{
    free(j->tokens);
    j->tokens = NULL;
    j->count = 0;
}

static const jsmntok_t *tok(const struct json *j, int i)
{
    return &j->tokens[i].t;
}

/* The index after token i's whole subtree. Iterative: nesting depth is the
 * server's choice, the stack is not. */
static int skip(const struct json *j, int i)
{
    int end = tok(j, i)->end, k = i + 1;
    while (k < j->count && tok(j, k)->start < end)
        k++;
    return k;
}

int json_find(const struct json *j, const char *path)
{
    return json_find_in(j, 0, path);
}

int json_find_in(const struct json *j, int from, const char *path)
{
    if (!j->tokens || from < 0 || from >= j->count)
        return -1;
    int cur = from;
    const char *seg = path;
    while (*seg) {
        const char *dot = strchr(seg, '.');
        size_t seglen = dot ? (size_t)(dot - seg) : strlen(seg);
        if (tok(j, cur)->type != JSMN_OBJECT)
            return -1;
        int k = cur + 1, found = -1;
        for (int pair = 0; pair < tok(j, cur)->size && k < j->count; pair++) {
            const jsmntok_t *key = tok(j, k);
            if (k + 1 >= j->count)
                return -1;
            if (key->type == JSMN_STRING && (size_t)(key->end - key->start) == seglen &&
                memcmp(j->doc + key->start, seg, seglen) == 0) {
                found = k + 1;
                break;
            }
            k = skip(j, k + 1);
        }
        if (found < 0)
            return -1;
        cur = found;
        seg = dot ? dot + 1 : seg + seglen;
    }
    return cur;
}

void json_array_iter(const struct json *j, int array, struct json_iter *it)
{
    bool is_array = json_type(j, array) == 'a';
    *it = (struct json_iter){ .json = j, .next = array + 1, .left = is_array ? tok(j, array)->size : 0 };
}

int json_iter_next(struct json_iter *it)
{
    if (it->left <= 0 || it->next >= it->json->count)
        return -1;
    int item = it->next;
    it->next = skip(it->json, item);
    it->left--;
    return item;
}

char json_type(const struct json *j, int token)
{
    if (token < 0 || token >= j->count)
        return 0;
    switch (tok(j, token)->type) {
    case JSMN_OBJECT: return 'o';
    case JSMN_ARRAY: return 'a';
    case JSMN_STRING: return 's';
    default: return 'p';
    }
}

bool json_is_null(const struct json *j, int token)
{
    return json_type(j, token) == 'p' && tok(j, token)->end - tok(j, token)->start == 4 &&
           memcmp(j->doc + tok(j, token)->start, "null", 4) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

static size_t utf8_encode(unsigned cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool json_get_string(const struct json *j, int token, char *out, size_t cap)
{
    if (json_type(j, token) != 's' || cap == 0)
        return false;
    const char *p = j->doc + tok(j, token)->start, *end = j->doc + tok(j, token)->end;
    size_t n = 0;
    while (p < end) {
        char piece[4];
        size_t k = 1;
        if (*p != '\\') {
            piece[0] = *p++;
        } else {
            if (end - p < 2)
                return false;
            char e = p[1];
            p += 2;
            unsigned cp;
            switch (e) {
            case '"': case '\\': case '/': cp = (unsigned char)e; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (!hex4(p, end, &cp))
                    return false;
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) || lo < 0xDC00 ||
                        lo > 0xDFFF)
                        return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return false;
                }
                break;
            default: return false;
            }
            if (cp == 0)
                return false;
            k = utf8_encode(cp, piece);
        }
        if (n + k >= cap)
            return false;
        memcpy(out + n, piece, k);
        n += k;
    }
    out[n] = '\0';
    return true;
}

bool json_get_uint(const struct json *j, int token, uint64_t *out)
{
    char type = json_type(j, token);
    if (type != 's' && type != 'p')
        return false;
    const char *p = j->doc + tok(j, token)->start, *end = j->doc + tok(j, token)->end;
    if (p == end)
        return false;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

const char *json_raw(const struct json *j, int token, size_t *len)
{
    *len = 0;
    if (token < 0 || token >= j->count)
        return NULL;
    *len = (size_t)(tok(j, token)->end - tok(j, token)->start);
    return j->doc + tok(j, token)->start;
}
