/* A vimeo-sandbox for C tests that need a server: started once per test
 * group from $VIMEO_UP_BUILD, on a free port, with token "t". */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/buf.h"
#include "http.h"

static pid_t sandbox;
static char sandbox_url[128], dir[64];

static inline size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    buf_append(b, data, size * n);
    return size * n;
}

/* The sandbox's count of bytes it holds for the only upload. */
static inline long long server_offset(void)
{
    CURL *c = curl_easy_init();
    struct buf b;
    char url[160];
    buf_init(&b, 1 << 20);
    snprintf(url, sizeof url, "%s/_sandbox/uploads", sandbox_url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long long offset = -1;
    if (curl_easy_perform(c) == CURLE_OK && b.data) {
        const char *p = strstr(b.data, "\"offset\":");
        if (p)
            offset = atoll(p + 9);
    }
    buf_free(&b);
    curl_easy_cleanup(c);
    return offset;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static inline int start_sandbox(void **state)
{
    (void)state;
    const char *build = getenv("VIMEO_UP_BUILD") ? getenv("VIMEO_UP_BUILD") : "build";
    char path[512];
    int out[2];
    snprintf(path, sizeof path, "%s/vimeo-sandbox", build);
    if (pipe(out) != 0)
        return -1;
    sandbox = fork();
    if (sandbox == 0) {
        dup2(out[1], 1);
        execl(path, path, "--port", "0", "--sink", "--token", "t", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[128] = "";
    FILE *f = fdopen(out[0], "r");
    if (!fgets(line, sizeof line, f) || sscanf(line, "listening on %127s", sandbox_url) != 1)
        return -1;
    fclose(f);
    snprintf(dir, sizeof dir, "/tmp/vimeo-up-engine.XXXXXX");
    return mkdtemp(dir) && http_global_init() ? 0 : -1;
}

static inline int stop_sandbox(void **state)
{
    (void)state;
    kill(sandbox, SIGTERM);
    waitpid(sandbox, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    http_global_cleanup();
    return system(cmd);
}

#endif
