/*
 * completion: the bash and zsh completion scripts, made from the option
 * table itself (as tig makes its help from one list), so that completion
 * cannot lag behind the options. `vimeo-up completion bash|zsh` prints
 * one; make install puts them where bash-completion and zsh look.
 */
#ifndef COMPLETION_H
#define COMPLETION_H

#include <getopt.h>
#include <stddef.h>

struct completion_words {
    const struct option *options;      /* getopt_long's table, ending in a NULL name */
    const char *short_options;         /* getopt's string */
    const char *const *commands;       /* the command words */
    size_t ncommands;
    const char *const *privacy;        /* --privacy's values */
    size_t nprivacy;
};

/* Print the script for shell ("bash" or "zsh"); an exit status (usage for
 * another shell, after one line on stderr). */
int completion_print(const char *shell, const struct completion_words *words);

#endif
