#include "protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/json.h"
#include "util/json_write.h"

/* The directory that holds the sockets, as tmux does: the runtime
 * directory when the session has one, else one of the user's own in /tmp. */
static bool socket_dir(char *out, size_t cap, char *err, size_t errcap)
{
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (runtime && runtime[0] == '/')
        snprintf(out, cap, "%s/vimeo-up", runtime);
    else
        snprintf(out, cap, "/tmp/vimeo-up-%ld", (long)getuid());
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "socket directory %s: %s", out, strerror(errno));
        return false;
    }
    /* Another user may have made it first, in /tmp: never trust it then. */
    struct stat st;
    if (lstat(out, &st) != 0) {
        snprintf(err, errcap, "socket directory %s: %s", out, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode))
        snprintf(err, errcap, "socket directory %s: not a directory", out);
    else if (st.st_uid != getuid())
        snprintf(err, errcap, "socket directory %s: owned by uid %ld, not by you", out, (long)st.st_uid);
    else if (st.st_mode & 077)
        snprintf(err, errcap, "socket directory %s: mode %04o lets others in; run chmod 700 %s", out,
                 (unsigned)(st.st_mode & 07777), out);
    else
        return true;
    return false;
}

bool protocol_socket_path(const char *state_dir, char *out, size_t cap, char *err, size_t errcap)
{
    char dir[PATH_MAX], canonical[PATH_MAX];
    if (!socket_dir(dir, sizeof dir, err, errcap))
        return false;
    if (!realpath(state_dir, canonical))
        snprintf(canonical, sizeof canonical, "%s", state_dir);
    /* FNV-1a of the canonical path: the same directory, however it is
     * spelled, finds the same agent, and the name stays short. */
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)canonical; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    int n = snprintf(out, cap, "%s/agent-%016" PRIx64, dir, h);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof((struct sockaddr_un *)0)->sun_path) {
        snprintf(err, errcap, "socket directory %s: its path is too long for a socket", dir);
        return false;
    }
    return true;
}

void protocol_greeting(struct buf *b)
{
    buf_printf(b, "{\"agent\":\"vimeo-up\",\"protocol\":%d,\"version\":\"%s\"}\n", PROTOCOL_VERSION,
               VIMEO_UP_VERSION);
}

void protocol_version_refusal(char *out, size_t cap)
{
    snprintf(out, cap, "the agent is version %s; run vimeo-up stop first", VIMEO_UP_VERSION);
}

void protocol_row(struct buf *b, const struct engine_row *r)
{
    /* Times as whole milliseconds: every number on the wire is an integer. */
    buf_printf(b, "{\"id\":%u,\"state\":\"%s\",\"size\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"acked\":%" PRIu64
               ",\"rate\":%.0f,\"retries\":%u,\"retry_in_ms\":%.0f,\"started_ms\":%.0f,\"finished_ms\":%.0f,"
               "\"transcode\":\"%s\"",
               r->id, engine_state_name(r->state), r->size, r->sent, r->acked, r->rate, r->retries,
               r->retry_in * 1000, r->started * 1000, r->finished * 1000, engine_transcode_name(r->transcode));
    if (r->texts) {
        buf_puts(b, ",\"name\":");
        json_append_string_lossy(b, r->name);
        buf_puts(b, ",\"video\":");
        json_append_string_or_null(b, r->video);
        buf_puts(b, ",\"message\":");
        json_append_string_lossy(b, r->message);
    }
    buf_puts(b, "}");
}

void protocol_totals(struct buf *b, const struct engine_totals *t)
{
    buf_printf(b, "{\"files\":%u,\"done\":%u,\"failed\":%u,\"active\":%u,\"removed_done\":%u,\"bytes\":%" PRIu64
               ",\"acked\":%" PRIu64 ",\"rate\":%.0f,\"workers\":%u,\"rate_limit\":%" PRIu64 ",\"sent_bytes\":%" PRIu64
               "}", t->files, t->done, t->failed, t->active, t->removed_done, t->bytes, t->acked, t->rate, t->workers,
               t->rate_limit, t->sent_bytes);
}

void protocol_absolute_path(const char *name, char *out, size_t cap)
{
    char full[PATH_MAX], dir[PATH_MAX];
    if (realpath(name, full)) {
        snprintf(out, cap, "%s", full);
        return;
    }
    /* A file that is not there: its directory resolved, or the working
     * directory, and the rest as given. */
    const char *slash = strrchr(name, '/');
    const char *rest = slash ? slash + 1 : name;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - name) : 1, slash ? name : ".");
    if (!realpath(dir[0] ? dir : "/", full)) {
        if (name[0] == '/' || !getcwd(full, sizeof full))
            full[0] = '\0';
        rest = name;
    }
    size_t len = strlen(full);
    if (snprintf(out, cap, "%s%s%s", full, len && full[len - 1] != '/' ? "/" : "", rest) >= (int)cap)
        snprintf(out, cap, "%s", name);
}

bool protocol_send(int fd, const char *line)
{
    size_t len = strlen(line), off = 0;
    while (off <= len) {
        const char *p = off < len ? line + off : "\n";
        size_t n = off < len ? len - off : 1;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    return true;
}

bool protocol_read_line(int fd, struct buf *in, struct buf *line)
{
    for (;;) {
        char *nl = in->data ? memchr(in->data, '\n', in->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - in->data);
            buf_reset(line);
            if (!buf_append(line, in->data, n))
                return false;
            memmove(in->data, nl + 1, in->len - n - 1);
            in->len -= n + 1;
            in->data[in->len] = '\0';
            return true;
        }
        char chunk[65536];
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || !buf_append(in, chunk, (size_t)got))
            return false;
    }
}

int protocol_connect(const char *path, bool any_version, char *err, size_t cap)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int saved = errno;
        snprintf(err, cap, "agent socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        errno = saved;
        return -1;
    }
    /* The greeting comes at once; an agent that says nothing for 10 s is stuck. */
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct buf in, line;
    buf_init(&in, 2 * PROTOCOL_LINE_MAX);
    buf_init(&line, PROTOCOL_LINE_MAX);
    bool ok = protocol_read_line(fd, &in, &line);
    struct json j = { 0 };
    uint64_t version = 0;
    char version_text[64] = "unknown";
    if (ok && json_parse(&j, line.data, line.len)) {
        json_get_uint(&j, json_find(&j, "protocol"), &version);
        json_get_string(&j, json_find(&j, "version"), version_text, sizeof version_text);
    }
    json_free(&j);
    buf_free(&in); /* the agent says nothing more before a request */
    buf_free(&line);
    tv.tv_sec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!ok)
        snprintf(err, cap, "agent socket %s: no greeting from the agent", path);
    else if (version != PROTOCOL_VERSION && !any_version)
        snprintf(err, cap, "the agent is version %s; run vimeo-up stop first", version_text);
    else
        return fd;
    close(fd);
    errno = EPROTO;
    return -1;
}
