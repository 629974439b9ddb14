/*
 * vimeo-up: the command line. Parses options, reads the token, starts the
 * engine, and runs the dashboard on a terminal or the headless output
 * otherwise. See --help and man/vimeo-up.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "completion.h"
#include "config.h"
#include "login.h"
#include "runlog.h"
#include "engine.h"
#include "headless.h"
#include "util/json_write.h"
#include "text.h"
#include "util/units.h"

static const char usage_text[] =
    "usage: vimeo-up [options] FILE...      upload; on a terminal through the agent, with its dashboard;\n"
    "                                       plain lines otherwise (the engine in this process)\n"
    "       vimeo-up resume [options]       continue every unfinished upload in the journal\n"
    "       vimeo-up verify [FILE|URI...]   HEAD-check journal entries (all if none named)\n"
    "       vimeo-up list [--json]          the journal as a table, or JSON\n"
    "       vimeo-up login                  store a token (read without echo, or from stdin), checked\n"
    "       vimeo-up logout                 remove the stored token\n"
    "       vimeo-up completion bash|zsh    the shell's completion script (make install installs both)\n"
    "       vimeo-up help                   this text (options may come before or after the command)\n"
    "       vimeo-up add [options] FILE...  queue in the background agent (started if none runs)\n"
    "       vimeo-up status [--json]        the agent's table once\n"
    "       vimeo-up wait                   block until the agent's uploads settle (exit as for an upload)\n"
    "       vimeo-up stop                   the agent pauses everything, saves and exits\n"
    "       vimeo-up agent [options]        start the agent for the state directory\n"
    "       vimeo-up attach [--json]        the dashboard (or JSON events) of the running agent; also\n"
    "                                       vimeo-up with no FILE on a terminal\n"
    "  -j, --jobs N            parallel uploads (default " ENGINE_STR(ENGINE_DEFAULT_WORKERS) ")\n"
    "  -c, --chunk-size SIZE   bytes per PATCH, K/M/G suffixes (default " ENGINE_STR(ENGINE_DEFAULT_CHUNK_MIB) "M; 0 = whole rest)\n"
    "  -r, --limit-rate RATE   total upload rate cap in bytes/s, K/M/G suffixes (default none)\n"
    "      --api URL           API base (default https://api.vimeo.com, env VIMEO_API_URL)\n"
    "      --token-file FILE   read the access token from FILE (else env VIMEO_TOKEN, else the\n"
    "                          token 'vimeo-up login' stored)\n"
    "      --state DIR         journal directory (default $XDG_STATE_HOME/vimeo-up)\n"
    "      --no-tui            plain progress lines even on a terminal\n"
    "      --json              JSON-lines events on stdout (implies --no-tui)\n"
    "      --name N, --description D, --privacy VIEW, --folder URI\n"
    "                          (--name may hold {name}, {stem} and {n}: the file's name,\n"
    "                          without its extension, its number in the run)\n"
    "      --password-file FILE  the password for --privacy password (mode 600)\n"
    "      --tag T             tag every new video with T (repeatable)\n"
    "      --cacert FILE       trust the CA certificates in FILE (else env SSL_CERT_FILE or\n"
    "                          CURL_CA_BUNDLE, else the system's), e.g. behind a TLS proxy\n"
    "      --tus-endpoint URL  any tus 1.0 server with the creation extension, instead of Vimeo\n"
    "      --again             upload even if the journal says the file was uploaded\n"
    "      --replace VIDEO     upload the one FILE as a new version of VIDEO (/videos/N[:HASH], N,\n"
    "                          or its vimeo.com address); the video keeps its page, link and stats\n"
    "      --wait-transcode    end only when Vimeo has transcoded every video (exit 1 if one failed\n"
    "                          or Vimeo would not say)\n"
    "      --stall-timeout S   give up on a transfer slower than 1 KiB/s for S seconds (default "
    ENGINE_STR(ENGINE_DEFAULT_STALL_SECONDS) ")\n"
    "                          while sending; after a chunk's last byte the server gets 10 times S\n"
    "  -R, --recursive         upload the files in each directory named, and below (not hidden ones)\n"
    "      --include GLOB, --exclude GLOB  only files whose path below the directory matches, or\n"
    "                          not those (repeatable; as rclone: *.mov, /top/*, day*/**)\n"
    "      --files-from FILE   also the files named in FILE, one a line (- for stdin)\n"
    "  -0, --null              --files-from names end with NUL, as find -print0 writes them\n"
    "  -q, --quiet             only errors and the summary\n"
    "  -v, --verbose           also each HTTP request: method, URL (no secrets), status, time\n"
    "      --log-file FILE     append the event log to FILE as plain lines (mode 600)\n"
    "      --on-done PROGRAM   run PROGRAM (no shell, no arguments) for each file verified, with\n"
    "                          VIMEO_UP_FILE, VIMEO_UP_VIDEO, VIMEO_UP_LINK, VIMEO_UP_SIZE set\n"
    "      --bell              ring the terminal's bell when a dashboard run is done\n"
    "      --dry-run           say what would be uploaded, skipped or refused, the total and the\n"
    "                          quota; create nothing (only GET /me and GET /oauth/verify)\n"
    "      --manifest FILE     also the files in FILE, JSON lines of path and any of name,\n"
    "                          description, privacy, password_file, folder, replace and tags:\n"
    "                          each file's own metadata\n"
    "      --config FILE       defaults as key = value lines (default $XDG_CONFIG_HOME/vimeo-up/config,\n"
    "                          else ~/.config/vimeo-up/config); the command line wins\n"
    "      --foreground        the engine in this process, even on a terminal (as with --no-tui,\n"
    "                          --json, output to a file, --dry-run, --on-done, --log-file,\n"
    "                          --manifest, --replace, -v)\n"
    "      --idle-exit S       the agent exits after S seconds with nothing to do and no client\n"
    "                          (default " ENGINE_STR(AGENT_DEFAULT_IDLE_EXIT) ")\n"
    "  -h, --help; -V, --version\n"
    "Exit status: 0 all verified, 1 an upload failed, 2 usage, 3 cannot start, 4 uploads unfinished\n"
    "(the user quit, state saved, or detached from the agent), 130 interrupted.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "vimeo-up: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see vimeo-up --help)\n");
    return EXIT_USAGE;
}

/* A size from the command line: "128M", "1.5G". */
static bool parse_size_option(const char *text, uint64_t *out)
{
    return units_parse_size(text, out);
}

/* A count from the command line: digits only, for a count is not a size
 * (--stall-timeout 1K would be 1024 seconds). */
static bool parse_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (!*text || *end || errno || *text == '-' || *text == '+' || *text == ' ')
        return false;
    *out = n;
    return true;
}

enum { OPT_API = 256, OPT_TOKEN_FILE, OPT_STATE, OPT_NO_TUI, OPT_JSON, OPT_NAME, OPT_DESCRIPTION,
       OPT_PRIVACY, OPT_FOLDER, OPT_TUS, OPT_AGAIN, OPT_STALL, OPT_PASSWORD_FILE, OPT_CACERT, OPT_TAG,
       OPT_REPLACE, OPT_WAIT_TRANSCODE, OPT_CONFIG, OPT_FILES_FROM, OPT_INCLUDE, OPT_EXCLUDE, OPT_LOG_FILE,
       OPT_ON_DONE, OPT_BELL, OPT_DRY_RUN, OPT_MANIFEST, OPT_IDLE_EXIT, OPT_FOREGROUND };
static const char short_options[] = ":j:c:r:0RqvhV";
static const struct option options[] = {
    { "jobs", required_argument, NULL, 'j' },
    { "chunk-size", required_argument, NULL, 'c' },
    { "limit-rate", required_argument, NULL, 'r' },
    { "api", required_argument, NULL, OPT_API },
    { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
    { "state", required_argument, NULL, OPT_STATE },
    { "no-tui", no_argument, NULL, OPT_NO_TUI },
    { "json", no_argument, NULL, OPT_JSON },
    { "name", required_argument, NULL, OPT_NAME },
    { "description", required_argument, NULL, OPT_DESCRIPTION },
    { "privacy", required_argument, NULL, OPT_PRIVACY },
    { "folder", required_argument, NULL, OPT_FOLDER },
    { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
    { "cacert", required_argument, NULL, OPT_CACERT },
    { "tag", required_argument, NULL, OPT_TAG },
    { "tus-endpoint", required_argument, NULL, OPT_TUS },
    { "again", no_argument, NULL, OPT_AGAIN },
    { "replace", required_argument, NULL, OPT_REPLACE },
    { "wait-transcode", no_argument, NULL, OPT_WAIT_TRANSCODE },
    { "stall-timeout", required_argument, NULL, OPT_STALL },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "files-from", required_argument, NULL, OPT_FILES_FROM },
    { "null", no_argument, NULL, '0' },
    { "recursive", no_argument, NULL, 'R' },
    { "include", required_argument, NULL, OPT_INCLUDE },
    { "exclude", required_argument, NULL, OPT_EXCLUDE },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "log-file", required_argument, NULL, OPT_LOG_FILE },
    { "on-done", required_argument, NULL, OPT_ON_DONE },
    { "bell", no_argument, NULL, OPT_BELL },
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { "manifest", required_argument, NULL, OPT_MANIFEST },
    { "idle-exit", required_argument, NULL, OPT_IDLE_EXIT },
    { "foreground", no_argument, NULL, OPT_FOREGROUND },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

/* Whether the option word arg (after its dashes: "api", "api=URL", "st")
 * takes the next word as its value; prefixes count as getopt_long's do. */
static bool long_option_takes_next(const char *arg)
{
    size_t len = strcspn(arg, "=");
    const struct option *found = NULL;
    if (arg[len] == '=')
        return false;
    for (const struct option *o = options; o->name; o++) {
        if (strncmp(o->name, arg, len))
            continue;
        if (strlen(o->name) == len)
            return o->has_arg == required_argument;
        if (found)
            return false; /* ambiguous: getopt_long refuses it */
        found = o;
    }
    return found && found->has_arg == required_argument;
}

/* Whether the cluster of short options arg ("j3", "Vj") takes the next word. */
static bool short_options_take_next(const char *arg)
{
    for (const char *p = arg; *p; p++) {
        const char *spec = strchr(short_options + 1, *p);
        if (spec && spec[1] == ':')
            return p[1] == '\0';
    }
    return false;
}

/* The command word, wherever it stands among the options (as git and gh
 * take them): the first word that is not an option or an option's value,
 * before any "--". It is taken out of argv; CLI_UPLOAD when there is none. */
static const char *const command_words[] = { "resume", "verify", "list", "help", "login", "logout", "completion",
                                             "agent", "add", "status", "wait", "stop", "attach" };
static const enum cli_command command_ids[] = { CLI_RESUME, CLI_VERIFY, CLI_LIST, CLI_HELP,
                                                CLI_LOGIN, CLI_LOGOUT, CLI_COMPLETION,
                                                CLI_AGENT, CLI_ADD, CLI_STATUS, CLI_WAIT, CLI_STOP, CLI_ATTACH };

static enum cli_command take_command(int *argc, char **argv)
{
    for (int i = 1; i < *argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--"))
            break;
        if (arg[0] == '-' && arg[1] == '-') {
            i += long_option_takes_next(arg + 2);
            continue;
        }
        if (arg[0] == '-' && arg[1]) {
            i += short_options_take_next(arg + 1);
            continue;
        }
        for (size_t k = 0; k < sizeof command_words / sizeof command_words[0]; k++) {
            if (strcmp(arg, command_words[k]))
                continue;
            memmove(argv + i, argv + i + 1, (size_t)(*argc - i) * sizeof *argv); /* argv[argc] is NULL */
            (*argc)--;
            return command_ids[k];
        }
        break;
    }
    return CLI_UPLOAD;
}

static const char *command_word(enum cli_command command)
{
    for (size_t k = 0; k < sizeof command_ids / sizeof command_ids[0]; k++)
        if (command_ids[k] == command)
            return command_words[k];
    return "an upload";
}

/* The options list takes: --json and --state (and --help, --version). */
static bool list_option(int opt)
{
    return opt == OPT_JSON || opt == OPT_STATE || opt == 'h' || opt == 'V';
}

/* A rate written in bits ("5Mb", "2Mib"): the length of the part before
 * the b, when that part is a size; 0 otherwise. */
static size_t bits_suffix(const char *text)
{
    size_t len = strlen(text);
    uint64_t n;
    if (len < 2 || text[len - 1] != 'b')
        return 0;
    len -= len > 2 && text[len - 2] == 'i' ? 2 : 1;
    char number[64];
    snprintf(number, sizeof number, "%.*s", (int)len, text);
    return len < sizeof number && parse_size_option(number, &n) ? len : 0;
}

/* Taking 5Mb as 5 MiB/s would be eight times what a user of bits meant. */
static int refuse_bits(const char *text, char *err, size_t cap)
{
    snprintf(err, cap, "--limit-rate: bytes per second; did you mean %.*s? (not %.60s)", (int)bits_suffix(text),
             text, text);
    return EXIT_USAGE;
}

/* An option's message: like usage_error's, into err for the caller to show. */
#define OPTION_ERROR(err, cap, ...) (snprintf(err, cap, __VA_ARGS__), EXIT_USAGE)

/* One option and its value, from the command line or a config file (which
 * is why it says what is wrong in err instead of printing it). */
static const char *const privacy_views[] = { "anybody", "contacts", "disable", "nobody", "password", "unlisted",
                                             "users" };

static int apply_option(struct cli *cli, int opt, const char *value, char *err, size_t cap)
{
    uint64_t n;
    switch (opt) {
    case 'j':
        if (!parse_count(value, &n) || n < 1 || n > ENGINE_MAX_WORKERS)
            return OPTION_ERROR(err, cap, "--jobs: not a number from 1 to " ENGINE_STR(ENGINE_MAX_WORKERS) ": %s",
                                value);
        cli->config.workers = (unsigned)n;
        break;
    case 'c':
        if (!parse_size_option(value, &cli->config.chunk_size))
            return OPTION_ERROR(err, cap, "--chunk-size: not a size (e.g. 128M): %s", value);
        break;
    case 'r':
        if (bits_suffix(value))
            return refuse_bits(value, err, cap);
        if (!parse_size_option(value, &cli->config.rate_limit))
            return OPTION_ERROR(err, cap, "--limit-rate: not a rate in bytes/s (e.g. 10M): %s", value);
        break;
    case OPT_API: cli->config.api_base = value; break;
    case OPT_TOKEN_FILE: cli->token_file = value; break;
    case OPT_STATE: cli->config.state_dir = value; break;
    case OPT_NO_TUI: cli->no_tui = true; break;
    case OPT_JSON: cli->json = cli->no_tui = true; break;
    case OPT_NAME: cli->config.name = value; break;
    case OPT_DESCRIPTION: cli->config.description = value; break;
    case OPT_PRIVACY: {
        size_t i;
        for (i = 0; i < sizeof privacy_views / sizeof privacy_views[0]; i++)
            if (!strcmp(value, privacy_views[i]))
                break;
        if (i == sizeof privacy_views / sizeof privacy_views[0])
            return OPTION_ERROR(err, cap, "--privacy: one of anybody, contacts, disable, nobody, password, unlisted, "
                                "users; not %s", value);
        cli->config.privacy = value;
        break;
    }
    case OPT_FOLDER: cli->config.folder = value; break;
    case OPT_PASSWORD_FILE: cli->password_file = value; break;
    case OPT_CACERT: cli->config.ca_file = value; break;
    case OPT_TAG:
        if (cli->config.ntags == CLI_MAX_TAGS)
            return OPTION_ERROR(err, cap, "--tag: at most " ENGINE_STR(CLI_MAX_TAGS) " tags: %s", value);
        if (!value[0])
            return OPTION_ERROR(err, cap, "--tag: an empty tag");
        cli->tags[cli->config.ntags++] = value;
        cli->config.tags = cli->tags;
        break;
    case OPT_TUS: cli->config.tus_endpoint = value; break;
    case OPT_AGAIN: cli->config.again = true; break;
    case OPT_WAIT_TRANSCODE: cli->config.wait_transcode = true; break;
    case OPT_REPLACE: {
        static char video[96];
        if (!engine_parse_video(value, video, sizeof video))
            return OPTION_ERROR(err, cap, "--replace: not a video (/videos/N, /videos/N:HASH, N or "
                                "https://vimeo.com/N[/HASH]): %s", value);
        cli->config.replace = video;
        break;
    }
    case OPT_STALL:
        if (!parse_count(value, &n) || n < 1 || n > ENGINE_MAX_STALL_SECONDS)
            return OPTION_ERROR(err, cap, "--stall-timeout: not a number of seconds from 1 to "
                                ENGINE_STR(ENGINE_MAX_STALL_SECONDS) ": %s", value);
        cli->config.stall_seconds = (long)n;
        break;
    case OPT_FOREGROUND: cli->foreground = true; break;
    case OPT_IDLE_EXIT:
        if (!parse_count(value, &n) || n < 1 || n > 86400 * 365)
            return OPTION_ERROR(err, cap, "--idle-exit: not a number of seconds: %s", value);
        cli->idle_exit = (long)n;
        break;
    case OPT_CONFIG: break; /* read before the other options: see load_config */
    case OPT_FILES_FROM: cli->batch.files_from = value; break;
    case 'q': cli->quiet = true; break;
    case 'v': cli->verbose = true; break;
    case OPT_LOG_FILE: cli->log_file = value; break;
    case OPT_ON_DONE: {
        /* Checked now, not after the first upload: a path must name a
         * program. Kept whole: the agent runs it from "/". */
        static char program[PATH_MAX];
        if (strchr(value, '/') && (access(value, X_OK) != 0 || !realpath(value, program)))
            return OPTION_ERROR(err, cap, "--on-done: not an executable file: %s", value);
        cli->on_done = strchr(value, '/') ? program : value;
        break;
    }
    case OPT_BELL: cli->bell = true; break;
    case OPT_DRY_RUN: cli->dry_run = true; break;
    case OPT_MANIFEST: cli->manifest_file = value; break;
    case '0': cli->batch.null_separated = true; break;
    case 'R': cli->batch.recursive = true; break;
    case OPT_INCLUDE:
    case OPT_EXCLUDE: {
        bool include = opt == OPT_INCLUDE;
        size_t *count = include ? &cli->batch.ninclude : &cli->batch.nexclude;
        if (*count == BATCH_MAX_PATTERNS)
            return OPTION_ERROR(err, cap, "--%s: at most " ENGINE_STR(BATCH_MAX_PATTERNS) " patterns: %s",
                                include ? "include" : "exclude", value);
        (include ? cli->batch.include : cli->batch.exclude)[(*count)++] = value;
        break;
    }
    }
    return EXIT_OK;
}

/* The keys a config file may set: long options that make sense as a default. */
static const char *const config_keys[] = { "jobs", "chunk-size", "limit-rate", "stall-timeout", "api", "privacy",
                                           "folder", "name", "tag", "token-file", "cacert", "wait-transcode" };

/* A yes/no value in a config file. */
static bool parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcmp(text, yes[i]) || !strcmp(text, no[i]))
            return *out = !strcmp(text, yes[i]), true;
    return false;
}

/* A config file's key = value, checked as its option would be. */
static int config_option(void *ctx, const char *key, const char *value, char *err, size_t cap)
{
    struct cli *cli = ctx;
    size_t k;
    for (k = 0; k < sizeof config_keys / sizeof config_keys[0]; k++)
        if (!strcmp(key, config_keys[k]))
            break;
    if (k == sizeof config_keys / sizeof config_keys[0])
        return OPTION_ERROR(err, cap, "unknown key '%.60s'", key);
    if (!strcmp(key, "wait-transcode")) {
        if (!parse_bool(value, &cli->config.wait_transcode))
            return OPTION_ERROR(err, cap, "wait-transcode: true or false, not %.60s", value);
        return EXIT_OK;
    }
    for (const struct option *o = options; o->name; o++)
        if (!strcmp(o->name, key))
            return apply_option(cli, o->val, value, err, cap);
    return OPTION_ERROR(err, cap, "unknown key '%.60s'", key);
}

/* --config FILE, or the default one: looked for before the other options,
 * so that the command line, read after it, wins. */
static int load_config(int argc, char **argv, struct cli *cli)
{
    const char *named = NULL;
    int opt;
    bool help = false;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
        if (opt == OPT_CONFIG)
            named = optarg;
        help |= opt == 'h' || opt == 'V';
    }
    optind = 0; /* getopt_long starts again for parse_options */
    if (help) /* a bad config file must not hide how to fix it */
        return EXIT_OK;
    char path[PATH_MAX];
    if (named)
        snprintf(path, sizeof path, "%s", named);
    else if (!config_dir(path, sizeof path - sizeof "/config"))
        return EXIT_OK;
    else
        strcat(path, "/config");
    int rc = config_load(path, named != NULL, config_option, cli);
    cli->config_tags = cli->config.ntags;
    return rc;
}

/* Parse every option; *not_for_list is the first option list does not take
 * (as written: "-j", "--api"), or NULL. */
static int parse_options(int argc, char **argv, struct cli *cli, const char **not_for_list)
{
    int opt, index;
    char err[512];
    opterr = 0;
    *not_for_list = NULL;
    while ((index = -1, opt = getopt_long(argc, argv, short_options, options, &index)) != -1) {
        if (!*not_for_list && opt != ':' && opt != '?' && !list_option(opt)) {
            static char shown[40];
            if (index >= 0)
                snprintf(shown, sizeof shown, "--%s", options[index].name);
            else
                snprintf(shown, sizeof shown, "-%c", opt);
            *not_for_list = shown;
        }
        switch (opt) {
        case 'h': fputs(usage_text, stdout); return EXIT_HELP;
        case 'V': printf("vimeo-up %s\n", VIMEO_UP_VERSION); return EXIT_HELP;
        case ':': return usage_error("%s needs a value", argv[optind - 1]);
        case '?': return usage_error("unknown option: %s", argv[optind - 1]);
        case OPT_TAG:
            /* Tags on the command line replace the config file's. */
            if (cli->config_tags)
                cli->config.ntags = cli->config_tags = 0;
            break;
        }
        if (apply_option(cli, opt, optarg, err, sizeof err) != EXIT_OK)
            return usage_error("%s", err);
        const char *kept = opt == OPT_FOLDER ? "--folder" : opt == OPT_PASSWORD_FILE ? "--password-file"
                           : opt == OPT_ON_DONE ? "--on-done" : opt == OPT_LOG_FILE ? "--log-file"
                           : opt == 'v' ? "-v" : NULL;
        if (!cli->kept_by_agent)
            cli->kept_by_agent = kept;
    }
    return EXIT_OK;
}

/* The token: from --token-file (which no one else may read), else VIMEO_TOKEN. */
/* Drop a trailing newline and spaces, as an editor or echo leaves them. */
static void trim_end(char *s)
{
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        s[--len] = '\0';
}

/* A secret from a file that no one else may read (option names it in
 * messages), its trailing newline and spaces dropped; what is wrong as one
 * line in err. */
static int read_secret(const char *option, const char *path, const char *what, char *out, size_t cap, char *err,
                       size_t err_cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, err_cap, "%s %s: %s", option, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_CANNOT_START;
    }
    if (st.st_mode & 077) {
        snprintf(err, err_cap, "%s %s: readable by others; run chmod 600 %s", option, path, path);
        close(fd);
        return EXIT_CANNOT_START;
    }
    ssize_t got = read(fd, out, cap - 1);
    close(fd);
    if (got < 0 || (size_t)got == cap - 1) {
        snprintf(err, err_cap, "%s %s: %s%s", option, path, got < 0 ? strerror(errno) : "too long for ",
                 got < 0 ? "" : what);
        return EXIT_CANNOT_START;
    }
    out[got] = '\0';
    trim_end(out);
    return EXIT_OK;
}

/* read_secret, saying what is wrong on stderr. */
static int read_secret_file(const char *option, const char *path, const char *what, char *out, size_t cap)
{
    char err[PATH_MAX * 2 + 100];
    int rc = read_secret(option, path, what, out, cap, err, sizeof err);
    if (rc != EXIT_OK)
        fprintf(stderr, "vimeo-up: %s\n", err);
    return rc;
}

/* --manifest: a field checked by its option's own code. */
static int manifest_check(void *ctx, const char *field, const char *value, char *err, size_t cap)
{
    struct cli scratch = { 0 };
    (void)ctx;
    int rc = apply_option(&scratch, !strcmp(field, "privacy") ? OPT_PRIVACY : OPT_TAG, value, err, cap);
    if (rc != EXIT_OK && !strncmp(err, "--", 2))
        memmove(err, err + 2, strlen(err + 2) + 1); /* the field, not the option */
    return rc;
}

static int manifest_password(void *ctx, const char *path, char *out, size_t cap, char *err, size_t err_cap)
{
    (void)ctx;
    int rc = read_secret("password_file", path, "a password", out, cap, err, err_cap);
    if (rc == EXIT_OK && !out[0])
        return snprintf(err, err_cap, "password_file %s: empty", path), EXIT_CANNOT_START;
    return rc;
}

static int read_token(struct cli *cli, char *token, size_t cap)
{
    char stored[PATH_MAX];
    struct stat st;
    token[0] = '\0';
    if (cli->token_file)
        return read_secret_file("--token-file", cli->token_file, "a token", token, cap);
    if (getenv("VIMEO_TOKEN"))
        snprintf(token, cap, "%s", getenv("VIMEO_TOKEN"));
    trim_end(token);
    if (!token[0] && login_token_path(stored, sizeof stored) && stat(stored, &st) == 0)
        return read_secret_file("token file", stored, "a token", token, cap);
    return EXIT_OK;
}

/* Vimeo takes a password only with privacy "password", and needs one then;
 * it comes from a file, never from the command line. */
static int read_password(struct cli *cli, char *password, size_t cap)
{
    password[0] = '\0';
    bool wants = cli->config.privacy && !strcmp(cli->config.privacy, "password");
    if (!cli->password_file)
        return wants ? usage_error("%s", "--privacy password needs --password-file FILE (mode 600)") : EXIT_OK;
    if (cli->config.privacy && !wants)
        return usage_error("--password-file goes with --privacy password, not %s", cli->config.privacy);
    cli->config.privacy = "password";
    int rc = read_secret_file("--password-file", cli->password_file, "a password", password, cap);
    if (rc == EXIT_OK && !password[0])
        return fprintf(stderr, "vimeo-up: --password-file %s: empty\n", cli->password_file), EXIT_CANNOT_START;
    cli->config.password = password;
    return rc;
}

/* The state directory, made unless only read (list, --dry-run), which
 * leave no trace: a missing one is an empty journal to them. */
static int resolve_state_dir(struct cli *cli, bool make)
{
    if (!cli->config.state_dir) {
        const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            snprintf(cli->state_dir, sizeof cli->state_dir, "%s/vimeo-up", xdg);
        else if (home && home[0])
            snprintf(cli->state_dir, sizeof cli->state_dir, "%s/.local/state/vimeo-up", home);
        else
            return fprintf(stderr, "vimeo-up: no HOME or XDG_STATE_HOME; use --state DIR\n"), EXIT_CANNOT_START;
    } else {
        snprintf(cli->state_dir, sizeof cli->state_dir, "%s", cli->config.state_dir);
    }
    if (make && config_make_dirs(cli->state_dir) != 0) {
        fprintf(stderr, "vimeo-up: cannot create state directory %s: %s\n", cli->state_dir, strerror(errno));
        return EXIT_CANNOT_START;
    }
    cli->config.state_dir = cli->state_dir;
    return EXIT_OK;
}

/* Where the journal's uploads went: resume and verify need no --api again. */
struct endpoints {
    bool unfinished_only;
    unsigned count;            /* distinct endpoints seen, up to 2 */
    char first[1024];
    bool videos, links;        /* the first endpoint's rows: some with a video, some with a bare link */
};

static void note_endpoint(void *arg, const struct engine_record *r)
{
    struct endpoints *seen = arg;
    if (seen->unfinished_only && !engine_record_unfinished(r))
        return;
    if (!seen->count || strcmp(seen->first, r->endpoint) != 0) {
        if (seen->count++)
            return;
        snprintf(seen->first, sizeof seen->first, "%s", r->endpoint);
    }
    seen->videos |= r->video[0] != '\0';
    seen->links |= r->video[0] == '\0' && r->upload_link[0] != '\0';
}

/* One endpoint for everything to do: take it, as Vimeo's API or (uploads
 * with a link but never a video) as a generic tus endpoint. Returns how
 * many endpoints there are (0: nothing to do), -1 if the journal cannot
 * be read. */
static int endpoint_from_journal(struct cli *cli, bool unfinished_only, char *out, size_t cap)
{
    struct endpoints seen = { .unfinished_only = unfinished_only };
    char err[4608];
    if (engine_list(cli->config.state_dir, note_endpoint, &seen, err, sizeof err) < 0)
        return -1;
    if (seen.count != 1)
        return (int)seen.count;
    snprintf(out, cap, "%s", seen.first);
    if (seen.links && !seen.videos)
        cli->config.tus_endpoint = out;
    else
        cli->config.api_base = out;
    return 1;
}

struct list_ctx {
    bool json;
    unsigned rows;
    struct buf out;
};

/* list's columns: wide enough for an unlisted video's URI and page, with
 * its hash (/videos/1234567890:0123456789, https://vimeo.com/N/HASH). */
#define LIST_ROW "%5s  %-10s %-15s %10s %10s  %-29s %-38s %s\n"

/* The table's head, or JSON's opening bracket: before the first row, so
 * that a journal that cannot be opened prints nothing on stdout. */
static void list_head(const struct list_ctx *ctx)
{
    if (ctx->json)
        fputs("[", stdout);
    else
        printf(LIST_ROW, "ID", "STATE", "TRANSCODE", "SIZE", "ACKED", "VIDEO", "LINK", "FILE");
}

static void list_row(void *arg, const struct engine_record *e)
{
    struct list_ctx *ctx = arg;
    if (!ctx->rows)
        list_head(ctx);
    if (ctx->json) {
        buf_reset(&ctx->out);
        buf_printf(&ctx->out, "%s{\"id\":%" PRId64 ",\"file\":", ctx->rows ? "," : "", e->id);
        json_append_string_lossy(&ctx->out, e->path);
        buf_printf(&ctx->out, ",\"size\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"state\":", e->size, e->acked);
        json_append_string_lossy(&ctx->out, e->state);
        buf_puts(&ctx->out, ",\"video\":");
        json_append_string_or_null(&ctx->out, e->video);
        buf_puts(&ctx->out, ",\"link\":");
        json_append_string_or_null(&ctx->out, e->page);
        buf_puts(&ctx->out, ",\"transcode\":");
        json_append_string_or_null(&ctx->out, e->transcode);
        buf_puts(&ctx->out, ",\"endpoint\":");
        json_append_string_lossy(&ctx->out, e->endpoint);
        buf_puts(&ctx->out, ",\"error\":");
        json_append_string_or_null(&ctx->out, e->error);
        buf_puts(&ctx->out, ",\"verified\":");
        json_append_string_lossy(&ctx->out, e->verified);
        char updated[40];
        headless_iso_time(e->updated, updated, sizeof updated);
        buf_printf(&ctx->out, ",\"updated\":\"%s\"}", updated);
        fputs(ctx->out.data ? ctx->out.data : "", stdout);
    } else {
        char size[16], acked[16], path[1024];
        units_format_size(e->size, size, sizeof size);
        units_format_size(e->acked, acked, sizeof acked);
        text_escape(e->path, path, sizeof path);
        char page[300];
        text_escape(e->page, page, sizeof page);
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, e->id);
        printf(LIST_ROW, id, e->state, e->transcode[0] ? e->transcode : "-", size, acked, e->video[0] ? e->video : "-",
               page[0] ? page : "-", path);
    }
    ctx->rows++;
}

static int run_list(struct cli *cli, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            cli->json = true;
        else
            return usage_error("list: unexpected argument: %s", argv[i]);
    }
    char err[4608]; /* a journal error names its path */
    struct list_ctx ctx = { .json = cli->json };
    buf_init(&ctx.out, 64 * 1024);
    int n = engine_list(cli->config.state_dir, list_row, &ctx, err, sizeof err);
    buf_free(&ctx.out);
    if (n < 0)
        return fprintf(stderr, "vimeo-up: %s\n", err), EXIT_CANNOT_START;
    if (!ctx.rows)
        list_head(&ctx);
    if (cli->json)
        fputs("]\n", stdout);
    return EXIT_OK;
}

/* --replace: one FILE, a new version of one Vimeo video. */
static int check_replace(const struct cli *cli, enum cli_command command)
{
    if (!cli->config.replace)
        return EXIT_OK;
    if (command != CLI_UPLOAD)
        return usage_error("--replace goes with one FILE to upload, not with %s", command_word(command));
    if (cli->config.tus_endpoint)
        return usage_error("%s", "--replace is for Vimeo videos, not with --tus-endpoint");
    return EXIT_OK;
}

/* Once -R, --files-from and --manifest have said every file: one file for
 * each video replaced, or two uploads race to be its file. */
static int check_replaced_once(const struct cli *cli, const struct batch *batch)
{
    size_t run_wide = cli->config.replace ? batch->count : 0;
    for (size_t i = 0; i < cli->manifest.count; i++) {
        const char *video = cli->manifest.entries[i].meta.replace;
        if (!video) {
            run_wide += cli->config.replace != NULL;
            continue;
        }
        if (cli->config.tus_endpoint)
            return usage_error("--manifest: replace %s: a Vimeo video, not with --tus-endpoint", video);
        bool twice = cli->config.replace && !strcmp(cli->config.replace, video);
        for (size_t k = 0; k < i && !twice; k++)
            twice = cli->manifest.entries[k].meta.replace && !strcmp(cli->manifest.entries[k].meta.replace, video);
        if (twice)
            return usage_error("--manifest: %s is replaced by two files; one file makes its new version", video);
    }
    char count[24];
    snprintf(count, sizeof count, "%zu", run_wide);
    if (run_wide > 1)
        return usage_error("--replace takes one FILE, the video's new file; %s were given", count);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    /* Started with 0, 1 or 2 closed (some schedulers do), the next files
     * opened would take their place: the self-pipe as stdout, and the first
     * output line would read as a signal. */
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
            return EXIT_CANNOT_START;
    /* The token will be in this process's memory: no core dump, no ptrace
     * by other processes of the same user. */
    prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
    /* Character type only: wide names on screen, while numbers keep their
     * C format (a decimal comma would break the JSON output). */
    setlocale(LC_CTYPE, "");
    struct cli cli = { .config = { .workers = ENGINE_DEFAULT_WORKERS,
                                   .chunk_size = (uint64_t)ENGINE_DEFAULT_CHUNK_MIB << 20,
                                   .stall_seconds = ENGINE_DEFAULT_STALL_SECONDS } };
    enum cli_command command = take_command(&argc, argv);
    if (command == CLI_HELP)
        return fputs(usage_text, stdout) == EOF ? EXIT_FAILED : EXIT_OK;
    if (command == CLI_COMPLETION) {
        const struct completion_words words = { options, short_options, command_words,
                                                sizeof command_words / sizeof command_words[0], privacy_views,
                                                sizeof privacy_views / sizeof privacy_views[0] };
        if (argc != 2)
            return usage_error("%s", "completion takes one word: bash or zsh");
        return completion_print(argv[1], &words);
    }

    const char *not_for_list;
    /* What only reads the state or the agent takes no config: a bad line
     * there must not keep a user from stopping the agent or logging out. */
    bool configured = command != CLI_LIST && command != CLI_LOGOUT && command != CLI_STATUS && command != CLI_WAIT &&
                      command != CLI_STOP;
    int rc = configured ? load_config(argc, argv, &cli) : EXIT_OK;
    if (rc != EXIT_OK)
        return rc;
    rc = parse_options(argc, argv, &cli, &not_for_list);
    if (rc == EXIT_HELP)
        return EXIT_OK;
    if (rc != EXIT_OK)
        return rc;
    char **files = argv + optind;
    int nfiles = argc - optind;
    if (command == CLI_LIST) {
        if (not_for_list)
            return usage_error("list takes only --json and --state: %s", not_for_list);
        if ((rc = resolve_state_dir(&cli, false)) != EXIT_OK)
            return rc;
        return run_list(&cli, nfiles, files);
    }
    /* On a terminal, uploads go through the agent, so that they outlive it;
     * what only this process can do (a hook, a log, a manifest's metadata,
     * a dry run, a replace) keeps the engine here. */
    bool through_agent = !cli.no_tui && !cli.foreground && !cli.config.replace && !cli.dry_run && !cli.on_done &&
                         !cli.log_file && !cli.manifest_file && !cli.verbose && isatty(STDIN_FILENO) &&
                         isatty(STDOUT_FILENO);
    if (command == CLI_UPLOAD && nfiles == 0 && !cli.batch.files_from && through_agent)
        command = CLI_ATTACH;
    if (command == CLI_ATTACH) {
        if (nfiles > 0)
            return usage_error("attach takes no FILE (vimeo-up add FILE queues it): %s", files[0]);
        if ((rc = resolve_state_dir(&cli, true)) != EXIT_OK)
            return rc;
        cli.command = command;
        return agent_attach(&cli);
    }
    if (command == CLI_STATUS || command == CLI_WAIT || command == CLI_STOP) {
        if (nfiles > 0)
            return usage_error("%s takes no FILE", command == CLI_STATUS ? "status" : command == CLI_WAIT ? "wait" : "stop");
        if ((rc = resolve_state_dir(&cli, true)) != EXIT_OK)
            return rc;
        cli.command = command;
        return agent_command(&cli);
    }
    if (cli.config.chunk_size && cli.config.chunk_size < (1 << 20))
        fprintf(stderr, "vimeo-up: warning: --chunk-size %" PRIu64 ": chunks under 1 MiB cost a request each "
                "and are slow\n", cli.config.chunk_size);
    if ((command == CLI_LOGIN || command == CLI_LOGOUT) && nfiles > 0)
        return usage_error("%s", command == CLI_LOGIN ? "login reads the token from standard input, never from "
                           "the command line" : "logout takes no argument");
    if (command == CLI_LOGOUT)
        return logout_run();
    if (cli.dry_run && command != CLI_UPLOAD)
        return usage_error("%s", "--dry-run goes with uploads, not with a command");
    if (cli.quiet && cli.verbose)
        return usage_error("%s", "--quiet and --verbose: one or the other");
    if (cli.verbose)
        cli.config.on_request = runlog_request;
    cli.config.on_rate_wait = runlog_rate_wait;
    if (command == CLI_ADD && cli.manifest_file) /* per-file folders and passwords cannot go over the socket */
        return usage_error("%s", "--manifest goes with an upload in this process (vimeo-up --manifest FILE), not "
                           "with add");
    if (command == CLI_ADD && nfiles == 0 && !cli.batch.files_from)
        return usage_error("%s", "add: no FILE to queue");
    if (command == CLI_AGENT && nfiles > 0)
        return usage_error("agent takes no FILE (vimeo-up add FILE queues it): %s", files[0]);
    if (command == CLI_UPLOAD && nfiles == 0 && !cli.batch.files_from && !cli.manifest_file)
        return usage_error("%s", "no FILE to upload (or a command: resume, verify, list, help)");
    if (command == CLI_RESUME && nfiles > 0)
        return usage_error("resume takes no FILE: %s", files[0]);
    if ((rc = check_replace(&cli, command)) != EXIT_OK)
        return rc;
    /* Made only once the command line is known good: a usage error leaves no empty log behind. */
    if (cli.log_file && (rc = runlog_open(cli.log_file)) != EXIT_OK)
        return rc;

    /* As curl does: the environment names a CA bundle when no option does. */
    if (!cli.config.ca_file && getenv("SSL_CERT_FILE") && *getenv("SSL_CERT_FILE"))
        cli.config.ca_file = getenv("SSL_CERT_FILE");
    if (!cli.config.ca_file && getenv("CURL_CA_BUNDLE") && *getenv("CURL_CA_BUNDLE"))
        cli.config.ca_file = getenv("CURL_CA_BUNDLE");
    if (cli.config.ca_file && access(cli.config.ca_file, R_OK) != 0) {
        fprintf(stderr, "vimeo-up: CA file %s: %s\n", cli.config.ca_file, strerror(errno));
        return EXIT_CANNOT_START;
    }
    bool endpoint_given = cli.config.api_base || cli.config.tus_endpoint ||
                          (getenv("VIMEO_API_URL") && *getenv("VIMEO_API_URL"));
    if (!cli.config.api_base)
        cli.config.api_base = getenv("VIMEO_API_URL") && *getenv("VIMEO_API_URL") ? getenv("VIMEO_API_URL")
                                                                                 : "https://api.vimeo.com";
    if (command == CLI_LOGIN) /* the token file only: no state */
        return login_run(&cli);
    if ((rc = resolve_state_dir(&cli, !cli.dry_run)) != EXIT_OK)
        return rc;
    cli.config.read_only = cli.dry_run;
    char endpoint[1024];
    int endpoints = -1;
    if ((command == CLI_RESUME || command == CLI_VERIFY) && !endpoint_given)
        endpoints = endpoint_from_journal(&cli, command == CLI_RESUME, endpoint, sizeof endpoint);
    if (command == CLI_RESUME && endpoints == 0 && !cli.json) /* said without a token, a network or an API */
        return printf("nothing to resume in %s\n", cli.state_dir) < 0 ? EXIT_FAILED : EXIT_OK;
    char token[4096];
    if ((rc = read_token(&cli, token, sizeof token)) != EXIT_OK)
        return rc;
    if (!token[0] && !cli.config.tus_endpoint && command != CLI_VERIFY) {
        fprintf(stderr, "vimeo-up: no access token: set VIMEO_TOKEN, use --token-file FILE or run "
                "'vimeo-up login'\n");
        return EXIT_CANNOT_START;
    }
    cli.config.token = token;
    char password[1024];
    if ((rc = read_password(&cli, password, sizeof password)) != EXIT_OK)
        return rc;
    cli.command = command;
    cli.files = files;
    cli.nfiles = nfiles;
    struct batch batch = { 0 };
    const struct manifest_checks checks = { manifest_check, manifest_password, NULL, cli.config.privacy,
                                            cli.password_file != NULL };
    if (command == CLI_UPLOAD && cli.manifest_file &&
        (rc = manifest_load(cli.manifest_file, &checks, &cli.manifest)) != EXIT_OK)
        return rc;
    bool collects = command == CLI_UPLOAD || command == CLI_ADD; /* -R, --files-from, --include, --exclude */
    if (collects && ((rc = batch_collect(&cli.batch, files, (size_t)nfiles, &batch)) != EXIT_OK ||
                     (rc = check_replaced_once(&cli, &batch)) != EXIT_OK)) {
        batch_free(&batch);
        manifest_free(&cli.manifest);
        return rc;
    }
    if (collects) {
        cli.files = batch.paths;
        cli.files_owned = true; /* batch_free frees what cli_run leaves */
        cli.nfiles = (int)batch.count;
        cli.skipped = batch.hidden + batch.not_regular;
        cli.unreadable = batch.errors;
    }
    if (command == CLI_AGENT)
        rc = agent_start(&cli);
    else if (command == CLI_ADD)
        rc = agent_command(&cli);
    else if ((command == CLI_UPLOAD || command == CLI_RESUME) && through_agent)
        rc = agent_attach(&cli);
    else
        rc = cli_run(&cli);
    batch_free(&batch);
    manifest_free(&cli.manifest);
    runlog_close();
    memset(token, 0, sizeof token);
    memset(password, 0, sizeof password);
    return rc;
}
