/*
 * config: defaults for the command line from a file of "key = value"
 * lines, as curl's ~/.curlrc and rclone's config give them. A key is a
 * long option's name; what a value may be is decided by the function that
 * checks the option on the command line (config_apply_fn), so the two
 * cannot disagree. The file holds no secret: a "token" key is refused.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Take key's value (which lives until the process ends); EXIT_OK, or an
 * exit status with one line in err: "unknown key 'x'" or what is wrong
 * with the value. */
typedef int (*config_apply_fn)(void *ctx, const char *key, const char *value, char *err, size_t cap);

/* vimeo-up's configuration directory: $XDG_CONFIG_HOME/vimeo-up, else
 * ~/.config/vimeo-up. False when neither variable says where. */
bool config_dir(char *out, size_t cap);

/* mkdir -p with mode 0700 for what it makes; 0, or -1 with errno. */
int config_make_dirs(char *path);

/* Read path, handing each key = value line to apply. A missing file is
 * fine unless must_exist (a file named with --config). Returns EXIT_OK,
 * or an exit status after one line on stderr naming the file and line. */
int config_load(const char *path, bool must_exist, config_apply_fn apply, void *ctx);

#endif
