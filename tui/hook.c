#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runlog.h"

extern char **environ;

static const char *hook_program;
static bool hook_dashboard;

void hook_setup(const char *program, bool dashboard)
{
    hook_program = program;
    hook_dashboard = dashboard;
}


/* The environment for the hook: ours, less the token and any VIMEO_UP_
 * variables of an outer run, plus the file's. NULL when out of memory. */
static char **hook_environment(char *const vars[], size_t nvars)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + nvars + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "VIMEO_TOKEN=", 12) && strncmp(environ[i], "VIMEO_UP_", 9))
            env[k++] = environ[i];
    for (size_t i = 0; i < nvars; i++)
        env[k++] = vars[i];
    return env;
}

struct child {
    pid_t pid;
    char what[600];             /* "--on-done PROGRAM for FILE", for the log */
};

/* Wait for one hook on a thread of its own: neither the UI nor a worker waits. */
static void *reap(void *arg)
{
    struct child *c = arg;
    int status;
    pid_t got;
    while ((got = waitpid(c->pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (got == c->pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        char line[700];
        if (WIFEXITED(status))
            snprintf(line, sizeof line, "%s: exit status %d", c->what, WEXITSTATUS(status));
        else
            snprintf(line, sizeof line, "%s: killed by signal %d", c->what, WTERMSIG(status));
        runlog_note(line);
    }
    free(c);
    return NULL;
}

/* page: the video's page on vimeo.com, as Vimeo gave it ("" for a tus server). */
static void spawn_hook(const char *path, const struct engine_row *row, const char *page)
{
    char file[4200], video[64], link[300], size[48];
    snprintf(file, sizeof file, "VIMEO_UP_FILE=%s", path);
    snprintf(video, sizeof video, "VIMEO_UP_VIDEO=%s", row->video);
    snprintf(link, sizeof link, "VIMEO_UP_LINK=%s", page);
    snprintf(size, sizeof size, "VIMEO_UP_SIZE=%" PRIu64, row->size);
    char *vars[] = { file, video, link, size };
    char **env = hook_environment(vars, 4);
    struct child *c = malloc(sizeof *c);
    if (!env || !c) {
        free(env);
        free(c);
        return runlog_note("--on-done: out of memory");
    }
    snprintf(c->what, sizeof c->what, "--on-done %.200s for %.300s", hook_program, path);
    /* No terminal input for it, its output away from stdout (JSON) or the
     * screen, and the signals as a fresh program has them. */
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (hook_dashboard)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    else
        posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    if (hook_dashboard)
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = { (char *)hook_program, NULL };
    int rc = posix_spawnp(&c->pid, hook_program, &actions, &attr, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    free(env);
    pthread_t thread;
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    if (rc == 0)
        rc = pthread_create(&thread, &detached, reap, c); /* failing, the child is left unreaped: rare, harmless */
    pthread_attr_destroy(&detached);
    if (rc == 0)
        return;
    char line[700];
    snprintf(line, sizeof line, "%s: %s", c->what, strerror(rc));
    runlog_note(line);
    free(c);
}

void hook_event(struct engine *e, const struct engine_event *ev)
{
    /* Verified now: a row the journal had done already never started. */
    if (!hook_program || ev->kind != ENGINE_EV_DONE || ev->row.started <= 0)
        return;
    struct engine_details *d = malloc(sizeof *d);
    if (d && engine_details(e, ev->job, d))
        spawn_hook(d->path, &ev->row, d->page);
    free(d);
}
