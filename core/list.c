/* `list`: the journal read through the engine, so front ends need no more
 * of the core than engine.h. */
#include "engine.h"

#include "journal.h"

struct list_ctx {
    void (*fn)(void *ctx, const struct engine_record *r);
    void *ctx;
};

static void list_entry(void *arg, const struct journal_entry *e)
{
    const struct list_ctx *list = arg;
    struct engine_record r = { .id = e->id, .path = e->path, .state = e->state, .video = e->video,
                               .upload_link = e->upload_link,
                               .endpoint = e->endpoint, .error = e->error, .verified = e->verified,
                               .size = e->size, .acked = e->acked, .created = e->created, .updated = e->updated,
                               .page = e->page,
                               .transcode = engine_transcode_name(engine_transcode_parse(e->transcode)) };
    list->fn(list->ctx, &r);
}

int engine_list(const char *state_dir, void (*fn)(void *ctx, const struct engine_record *r), void *ctx, char *err,
                size_t cap)
{
    struct journal *j = journal_open_existing(state_dir, err, cap);
    if (!j)
        return err[0] ? -1 : 0; /* none yet: no uploads */
    struct list_ctx list = { fn, ctx };
    bool snapshot = journal_read_begin(j);
    int n = journal_each(j, false, list_entry, &list);
    if (snapshot)
        journal_read_end(j);
    if (n < 0)
        journal_error(j, err, cap);
    journal_close(j);
    return n;
}

bool engine_record_unfinished(const struct engine_record *r)
{
    enum engine_state state;
    return !engine_state_parse(r->state, &state) || (state != ENGINE_DONE && state != ENGINE_CANCELLED);
}
