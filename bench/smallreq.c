/* bench/smallreq: how many small requests a plain-HTTP server answers.
 *
 *   smallreq keepalive|connect URL SECONDS THREADS
 *
 * Each thread sends HEAD URL, one at a time: keepalive over one connection
 * it keeps, connect over a new connection for every request (Connection:
 * close, read to the end). Prints "N requests in S s: R/s". A client this
 * small costs the server's machine little, so the rate is the server's.
 * Any request not answered 2xx stops the run with exit 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in server;
static char request[512];
static size_t request_len;
static bool fresh_connections;
static double seconds;
static atomic_ulong answered;
static atomic_bool failed;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&server, sizeof server) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One answer to a HEAD: headers only, so its end is the blank line; with
 * Connection: close, read on to the end as a client must. */
static bool exchange(int fd)
{
    char buf[4096];
    size_t have = 0;
    if (write(fd, request, request_len) != (ssize_t)request_len)
        return false;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            return fresh_connections && have > 0 && strstr(buf, "\r\n\r\n");
        have += (size_t)n;
        buf[have] = '\0';
        if (strncmp(buf, "HTTP/1.1 2", 10) != 0 && have >= 10)
            return false;
        if (!fresh_connections && strstr(buf, "\r\n\r\n"))
            return true;
        if (have == sizeof buf - 1)
            have = 0; /* headers this long are not ours: keep reading */
    }
}

static void *worker(void *unused)
{
    (void)unused;
    double end = now() + seconds;
    int fd = -1;
    while (now() < end && !failed) {
        if (fd < 0 && (fd = dial()) < 0)
            break;
        if (!exchange(fd))
            break;
        atomic_fetch_add(&answered, 1);
        if (fresh_connections) {
            close(fd);
            fd = -1;
        }
    }
    if (now() < end)
        atomic_store(&failed, true);
    if (fd >= 0)
        close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    char host[64], path[256];
    unsigned port;
    int threads;
    if (argc != 5 || (strcmp(argv[1], "keepalive") && strcmp(argv[1], "connect")) ||
        sscanf(argv[2], "http://%63[^:/]:%u%255s", host, &port, path) != 3 || (seconds = atof(argv[3])) <= 0 ||
        (threads = atoi(argv[4])) < 1 || threads > 64) {
        fprintf(stderr, "usage: smallreq keepalive|connect http://HOST:PORT/PATH SECONDS THREADS\n");
        return 2;
    }
    fresh_connections = !strcmp(argv[1], "connect");
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &server.sin_addr) != 1) {
        fprintf(stderr, "smallreq: %s is not an IPv4 address\n", host);
        return 2;
    }
    request_len = (size_t)snprintf(request, sizeof request,
                                   "HEAD %s HTTP/1.1\r\nHost: %s:%u\r\nTus-Resumable: 1.0.0\r\n%s\r\n", path, host,
                                   port, fresh_connections ? "Connection: close\r\n" : "");
    pthread_t t[64];
    double start = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double took = now() - start;
    unsigned long n = atomic_load(&answered);
    if (failed) {
        fprintf(stderr, "smallreq: a request failed after %lu answers\n", n);
        return 1;
    }
    printf("%lu requests in %.2f s: %.0f/s\n", n, took, (double)n / took);
    return 0;
}
