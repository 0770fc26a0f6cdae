/* admin_events: the logger hands every warn/error line here after redaction (log.c), so the
 * ring holds nothing a log line would not, and no module needs a second reporting call. */
#include "admin_events.h"

#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "timeutil.h"

struct admin_event {
    int64_t time;
    enum log_level level;
    char text[ADMIN_EVENT_TEXT];
};

static struct admin_event admin_ring[ADMIN_EVENTS_MAX];
static unsigned long admin_recorded;

static void admin_events_record(enum log_level level, const char *line)
{
    struct admin_event *e = &admin_ring[admin_recorded % ADMIN_EVENTS_MAX];
    e->time = time_now_s();
    e->level = level;
    snprintf(e->text, sizeof(e->text), "%s", line);
    /* jansson takes UTF-8 only; a line cut mid-character or carrying a peer's raw bytes would
     * make the whole answer fail, so the ring keeps ASCII */
    for (char *c = e->text; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    admin_recorded++;
}

void admin_events_start(void)
{
    log_set_sink(LOGL_WARN, admin_events_record);
}

unsigned long admin_events_total(void)
{
    return admin_recorded;
}

json_t *admin_events_json(unsigned limit)
{
    json_t *list = json_array();
    unsigned long kept = admin_recorded < ADMIN_EVENTS_MAX ? admin_recorded : ADMIN_EVENTS_MAX;
    for (unsigned long i = 0; list && i < kept && i < limit; i++) {
        const struct admin_event *e = &admin_ring[(admin_recorded - 1 - i) % ADMIN_EVENTS_MAX];
        json_array_append_new(list, json_pack("{s:I, s:s, s:s}", "time", (json_int_t)e->time,
                                              "level", e->level == LOGL_ERROR ? "error" : "warn",
                                              "text", e->text));
    }
    return list;
}
