#include "completion.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* What an option's value is, for completing it. */
enum value_kind { VALUE_NONE, VALUE_FREE, VALUE_FILE, VALUE_DIR, VALUE_PRIVACY, VALUE_PROGRAM };

static enum value_kind value_kind(const struct option *o)
{
    static const char *const files[] = { "token-file", "password-file", "cacert", "config", "files-from",
                                         "log-file" };
    if (o->has_arg == no_argument)
        return VALUE_NONE;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (!strcmp(o->name, files[i]))
            return VALUE_FILE;
    if (!strcmp(o->name, "state"))
        return VALUE_DIR;
    if (!strcmp(o->name, "privacy"))
        return VALUE_PRIVACY;
    if (!strcmp(o->name, "on-done"))
        return VALUE_PROGRAM;
    return VALUE_FREE;
}

/* The options whose values are of kind, as "-j|--jobs|..." (sep between). */
static void print_options_of(const struct completion_words *w, enum value_kind kind, const char *sep)
{
    const char *between = "";
    for (const struct option *o = w->options; o->name; o++) {
        if (value_kind(o) != kind)
            continue;
        if (o->val < 256 && strchr(w->short_options, o->val))
            printf("%s-%c", between, o->val), between = sep;
        printf("%s--%s", between, o->name);
        between = sep;
    }
}

static void print_list(const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? " " : "", words[i]);
}

static void print_all_options(const struct completion_words *w)
{
    print_options_of(w, VALUE_NONE, " ");
    for (enum value_kind k = VALUE_FREE; k <= VALUE_PROGRAM; k++) {
        printf(" ");
        print_options_of(w, k, " ");
    }
}

/* The case arms for the options that take a value, each with its action. */
static void print_value_cases(const struct completion_words *w, const char *const actions[4])
{
    static const enum value_kind kinds[] = { VALUE_FILE, VALUE_DIR, VALUE_PROGRAM, VALUE_FREE };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        printf("    ");
        print_options_of(w, kinds[i], "|");
        printf(") %s ;;\n", actions[i]);
    }
}

/* "resume|verify|..." */
static void print_command_pattern(const struct completion_words *w)
{
    for (size_t i = 0; i < w->ncommands; i++)
        printf("%s%s", i ? "|" : "", w->commands[i]);
}

static void print_bash(const struct completion_words *w)
{
    static const char *const actions[] = {
        "COMPREPLY=($(compgen -f -- \"$cur\")); return", "COMPREPLY=($(compgen -d -- \"$cur\")); return",
        "COMPREPLY=($(compgen -c -- \"$cur\") $(compgen -f -- \"$cur\")); return", "return" };
    printf("# bash completion for vimeo-up (made by: vimeo-up completion bash)\n"
           "_vimeo_up()\n{\n"
           "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\" i\n"
           "    COMPREPLY=()\n"
           "    case \"$prev\" in\n    --privacy) COMPREPLY=($(compgen -W \"");
    print_list(w->privacy, w->nprivacy);
    printf("\" -- \"$cur\")); return ;;\n");
    print_value_cases(w, actions);
    printf("    completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")); return ;;\n"
           "    esac\n"
           "    if [[ $cur == -* ]]; then\n        COMPREPLY=($(compgen -W \"");
    print_all_options(w);
    printf("\" -- \"$cur\"))\n        return\n    fi\n"
           "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
           "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
           "        case \"${COMP_WORDS[i]}\" in\n        ");
    print_command_pattern(w);
    printf(") return ;;\n        esac\n    done\n"
           "    COMPREPLY+=($(compgen -W \"");
    print_list(w->commands, w->ncommands);
    printf("\" -- \"$cur\"))\n}\ncomplete -o filenames -F _vimeo_up vimeo-up\n");
}

static void print_zsh(const struct completion_words *w)
{
    static const char *const actions[] = { "_files; return", "_files -/; return",
                                           "_command_names -e; _files; return", "return" };
    printf("#compdef vimeo-up\n# zsh completion for vimeo-up (made by: vimeo-up completion zsh)\n"
           "_vimeo-up() {\n"
           "    local prev=${words[CURRENT-1]}\n"
           "    case $prev in\n    --privacy) compadd -- ");
    print_list(w->privacy, w->nprivacy);
    printf("; return ;;\n");
    print_value_cases(w, actions);
    printf("    completion) compadd -- bash zsh; return ;;\n    esac\n"
           "    if [[ $PREFIX == -* ]]; then\n        compadd -- ");
    print_all_options(w);
    printf("\n        return\n    fi\n    local word\n    for word in ${words[2,CURRENT-1]}; do\n"
           "        case $word in\n        ");
    print_command_pattern(w);
    printf(") _files; return ;;\n        esac\n    done\n    compadd -- ");
    print_list(w->commands, w->ncommands);
    printf("\n    _files\n}\n_vimeo-up \"$@\"\n");
}

int completion_print(const char *shell, const struct completion_words *words)
{
    if (shell && !strcmp(shell, "bash"))
        print_bash(words);
    else if (shell && !strcmp(shell, "zsh"))
        print_zsh(words);
    else
        return fprintf(stderr, "vimeo-up: completion: bash or zsh, not %s (see vimeo-up --help)\n",
                       shell ? shell : "nothing"), EXIT_USAGE;
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
}
