/* media_rtpengine: rtpengine as eIMS-AGW over the ng protocol.
 *
 * One relay call per call leg through this gateway: the rtpengine call-id is
 * "<prefix><flow id>/<SIP Call-ID>", so a browser-to-browser call through one gateway (the same
 * SIP Call-ID on an outgoing and an incoming leg) is two independent relay calls, and the
 * prefix ("imsgw/<sip-host>/<worker>/") lets reconciliation find and delete only our sessions.
 *
 * Offer or answer is decided from the message: INVITE/UPDATE with SDP is an offer, ACK/PRACK
 * with SDP an answer; an SDP in a response is the answer when the last offer on the leg went the
 * other way, else an offer (late offer). rtpengine's from-tag is always the offerer's tag.
 *
 * Operations on one session run one at a time in arrival order (a queue per session): an
 * answer never overtakes its offer, a 183 never overtakes the 200 that follows it.
 *
 * Browser-to-browser bypass (media-bypass-ws-to-ws): a browser's INVITE leaves towards IMS with
 * the relay's address; when an INVITE towards a browser of this gateway offers exactly that
 * relay address and port (the "hairpin"), it is the same call coming back. That leg then gets
 * the first browser's own WebRTC offer and never touches the relay; when the second browser's
 * WebRTC answer reaches the first leg, its relay call is deleted and the answer passes as it is.
 * The relay address is the key because the relay allocated it for that one call (a Call-ID
 * could be reused by anyone); the Call-ID and From tag must match too (the relay address is
 * known to the callee). */
#include "media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_tag.h>

#include "bencode.h"
#include "gw.h"
#include "log.h"
#include "ng.h"

#define RE_MAX_SESSIONS 20000
#define RE_MAX_CALL_ID 256
#define RE_MAX_SDP 16384
#define RE_LIST_LIMIT 10000

struct re_session {
    char *key; /* rtpengine call-id */
    uint64_t conn_id;
    int offers_to;  /* where the last offer went: MEDIA_TO_*, -1 none yet */
    int dead;       /* the call ended; delete once the queue drains */
    GQueue ops;     /* struct re_op, head in flight */
    int bypass;     /* browser to browser: SDP passes unchanged, no relay call */
    int hairpin;    /* its offer came back to a browser here: a WebRTC answer means bypass */
    char *ws_offer; /* the browser's own offer, while its relay address is in re_hairpins */
    char *relay_at; /* "address port" the relay offered to IMS for it (key in re_hairpins) */
    char *dialog;   /* its INVITE's "Call-ID From-tag": the call coming back must carry both */
};

struct re_op {
    struct re_session *s;
    msg_t *msg;
    enum media_to to;
    int offer, created, initial;
    char *from_tag, *to_tag; /* rtpengine's: offerer, answerer */
    media_done_fn done;
    void *arg;
    uint64_t ng;
};

static GHashTable *re_sessions; /* key → struct re_session */
static GHashTable *re_hairpins; /* relay "address port" → struct re_session awaiting its answer */
static char re_prefix[300];
static guint re_reconcile_timer;
static uint64_t re_relay_errors; /* error answers; transport errors are ng's */

static void re_key(char *out, size_t len, uint64_t conn_id, const char *call_id)
{
    snprintf(out, len, "%s%llu/%s", re_prefix, (unsigned long long)conn_id, call_id);
}

static void re_encode_list(struct benc *b, const char *key, char **items)
{
    benc_str(b, key);
    benc_list(b);
    for (char **p = items; p && *p; p++)
        benc_str(b, *p);
    benc_end(b);
}

static void re_delete_reply(void *arg, const struct bdoc *d, const struct bnode *root,
                            const char *err)
{
    (void)arg;
    (void)d;
    (void)root;
    if (err)
        log_warn("media: delete not confirmed by the relay: %s", err);
}

static void re_send_delete(const char *key)
{
    char buf[1024];
    struct benc b;
    benc_init(&b, buf, sizeof(buf));
    benc_dict(&b);
    benc_kv(&b, "command", "delete");
    benc_kv(&b, "call-id", key);
    benc_end(&b);
    long n = benc_finish(&b);
    if (n < 0 || !ng_send(buf, (size_t)n, re_delete_reply, NULL))
        log_warn("media: could not send a delete to the relay");
}

/* The session's offer no longer waits for an answer: it cannot be hairpinned any more. */
static void re_hairpin_forget(struct re_session *s)
{
    if (s->relay_at && g_hash_table_lookup(re_hairpins, s->relay_at) == s)
        g_hash_table_remove(re_hairpins, s->relay_at);
    free(s->relay_at);
    free(s->ws_offer);
    g_free(s->dialog);
    s->relay_at = s->ws_offer = s->dialog = NULL;
}

/* "address port" of the first c= line and the first m=audio line of an SDP; -1 if absent. */
static int re_media_at(const char *sdp, size_t len, char *out, size_t outlen)
{
    char *text = g_strndup(sdp, len);
    char addr[64] = "";
    unsigned port = 0;
    for (char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!addr[0] && sscanf(line, "c=IN IP%*1[46] %63[^ \r\n/]", addr) != 1)
            addr[0] = '\0';
        if (!port && sscanf(line, "m=audio %5u ", &port) != 1)
            port = 0;
    }
    g_free(text);
    if (!addr[0] || !port)
        return -1;
    snprintf(out, outlen, "%s %u", addr, port);
    return 0;
}

/* An SDP of a WebRTC endpoint (DTLS-SRTP profile or fingerprint), not of our relay's IMS side. */
static int re_is_webrtc(const char *sdp, size_t len)
{
    return g_strstr_len(sdp, (gssize)len, "UDP/TLS/RTP/SAVP") ||
           g_strstr_len(sdp, (gssize)len, "a=fingerprint:");
}

static void re_session_free(struct re_session *s)
{
    re_hairpin_forget(s);
    g_hash_table_remove(re_sessions, s->key);
    free(s->key);
    free(s);
}

static void re_op_free(struct re_op *op)
{
    free(op->from_tag);
    free(op->to_tag);
    free(op);
}

static void re_op_start(struct re_op *op);

/* The head op is done: hand its message back, then run the next one or end the session. */
static void re_op_complete(struct re_op *op, int status, const char *phrase)
{
    struct re_session *s = op->s;
    if (status && op->created && !s->dead)
        s->dead = 1; /* a first offer that failed leaves no call behind */
    op->done(op->arg, op->msg, status, phrase); /* may mark s dead, never frees it */
    g_queue_pop_head(&s->ops);
    re_op_free(op);
    while (!g_queue_is_empty(&s->ops)) {
        struct re_op *next = g_queue_peek_head(&s->ops);
        if (!s->dead) {
            re_op_start(next);
            return;
        }
        next->done(next->arg, next->msg, 500, "Call ended while its media was being set up");
        g_queue_pop_head(&s->ops);
        re_op_free(next);
    }
    if (s->dead) {
        if (!s->bypass)
            re_send_delete(s->key);
        re_session_free(s);
    }
}

/* A reason from the relay made safe for a reason phrase. */
static void re_phrase(char *out, size_t len, const struct bnode *reason)
{
    char r[120] = "";
    if (bdec_copy(reason, r, sizeof(r)) < 0)
        snprintf(r, sizeof(r), "error");
    for (char *p = r; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    snprintf(out, len, "Service Unavailable (media relay: %s)", r);
}

static int re_set_sdp(msg_t *msg, const char *sdp, size_t len)
{
    if (len == 0 || len > RE_MAX_SDP)
        return -1;
    sip_t *sip = sip_object(msg);
    su_home_t *home = msg_home(msg);
    sip_payload_t *pl = sip_payload_create(home, sdp, (isize_t)len);
    sip_content_length_t *cl = sip_content_length_create(home, (uint32_t)len);
    if (!pl || !cl)
        return -1;
    if (sip->sip_payload)
        msg_header_replace(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_payload,
                           (msg_header_t *)pl);
    else
        msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)pl);
    if (sip->sip_content_length)
        msg_header_replace(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_content_length,
                           (msg_header_t *)cl);
    else
        msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)cl);
    return 0;
}

static int re_replace_sdp(msg_t *msg, const struct bnode *sdp)
{
    if (!sdp || sdp->type != BNODE_STR)
        return -1;
    return re_set_sdp(msg, sdp->str, sdp->len);
}

/* A browser's first offer went to IMS: remember it under the relay address it now carries,
 * in case the call comes back to a browser of this gateway. */
static void re_hairpin_note(struct re_session *s, char *ws_offer, msg_t *msg)
{
    sip_t const *sip = sip_object(msg);
    char at[96];
    if (!ws_offer ||
        re_media_at(sip->sip_payload->pl_data, sip->sip_payload->pl_len, at, sizeof(at)) < 0) {
        free(ws_offer);
        return;
    }
    re_hairpin_forget(s);
    s->ws_offer = ws_offer;
    s->relay_at = strdup(at);
    s->dialog = g_strdup_printf("%s %s", sip->sip_call_id->i_id, sip->sip_from->a_tag);
    g_hash_table_replace(re_hairpins, g_strdup(at), s);
}

static void re_op_reply(void *arg, const struct bdoc *d, const struct bnode *root, const char *err)
{
    struct re_op *op = arg;
    op->ng = 0;
    char phrase[200];
    if (err) {
        log_warn("media: %s for call %s", err, op->s->key);
        snprintf(phrase, sizeof(phrase), "Service Unavailable (%s)", err);
        re_op_complete(op, 503, phrase);
        return;
    }
    if (!bdec_is(bdec_get(d, root, "result"), "ok")) {
        re_relay_errors++;
        re_phrase(phrase, sizeof(phrase), bdec_get(d, root, "error-reason"));
        log_warn("media: relay refused %s for call %s: %s", op->offer ? "offer" : "answer",
                 op->s->key, phrase);
        re_op_complete(op, 503, phrase);
        return;
    }
    sip_payload_t const *pl = sip_object(op->msg)->sip_payload;
    char *ws_offer = gw->cfg->media_bypass_ws_to_ws && op->initial && op->to == MEDIA_TO_IMS
                         ? g_strndup(pl->pl_data, pl->pl_len)
                         : NULL;
    if (re_replace_sdp(op->msg, bdec_get(d, root, "sdp")) < 0) {
        g_free(ws_offer);
        re_relay_errors++;
        re_op_complete(op, 503, "Service Unavailable (media relay sent no usable SDP)");
        return;
    }
    if (ws_offer) {
        re_hairpin_note(op->s, strdup(ws_offer), op->msg);
        g_free(ws_offer);
    }
    re_op_complete(op, 0, NULL);
}

/* The ng request for op: the flags describe the side the SDP goes to. */
static long re_encode(struct re_op *op, char *buf, size_t len)
{
    sip_t const *sip = sip_object(op->msg);
    struct gw_settings const *cfg = gw->cfg;
    struct benc b;
    benc_init(&b, buf, len);
    benc_dict(&b);
    benc_kv(&b, "command", op->offer ? "offer" : "answer");
    benc_kv(&b, "call-id", op->s->key);
    benc_kv(&b, "from-tag", op->from_tag);
    if (op->to_tag)
        benc_kv(&b, "to-tag", op->to_tag);
    benc_str(&b, "sdp");
    benc_strn(&b, sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    benc_str(&b, "replace");
    benc_list(&b);
    benc_str(&b, "origin");
    benc_str(&b, "session-connection");
    benc_end(&b);
    benc_str(&b, "SDES");
    benc_list(&b);
    benc_str(&b, "off");
    benc_end(&b);
    if (op->to == MEDIA_TO_WS) {
        /* WebRTC: ICE, DTLS-SRTP, rtcp-mux (browsers require it), a=mid for BUNDLE. As the
         * answerer rtpengine is DTLS passive (RFC 5763 §5: the browser, offerer with actpass,
         * then starts the handshake); as the offerer it says actpass. */
        benc_kv(&b, "ICE", "force");
        if (op->offer)
            benc_kv(&b, "ICE-lite", "forward");
        benc_kv(&b, "transport-protocol", "UDP/TLS/RTP/SAVPF");
        if (!op->offer)
            benc_kv(&b, "DTLS", "passive");
        benc_str(&b, "rtcp-mux");
        benc_list(&b);
        benc_str(&b, "offer");
        benc_str(&b, "require");
        benc_end(&b);
        benc_str(&b, "flags");
        benc_list(&b);
        benc_str(&b, "generate-mid");
        benc_end(&b);
    } else {
        /* IMS: plain RTP/AVP, no ICE, no DTLS, RTCP on its own port. */
        benc_kv(&b, "ICE", "remove");
        benc_kv(&b, "DTLS", "off");
        if (op->offer) {
            /* The offer came from the browser: towards it rtpengine is ICE-lite and DTLS
             * passive from the start (the answer says so again), so it never opens a DTLS
             * handshake of its own before the browser has the answer. */
            benc_kv(&b, "ICE-lite", "backward");
            benc_kv(&b, "DTLS-reverse", "passive");
        }
        benc_kv(&b, "transport-protocol", "RTP/AVP");
        benc_str(&b, "rtcp-mux");
        benc_list(&b);
        benc_str(&b, "demux");
        benc_end(&b);
        benc_str(&b, "flags");
        benc_list(&b);
        benc_str(&b, "strip-extmap");
        benc_end(&b);
    }
    char **codecs = op->to == MEDIA_TO_WS ? cfg->media_ws_codecs : cfg->media_ims_codecs;
    if (op->offer && codecs && codecs[0]) {
        /* Codecs the receiving side surely has are added, transcoded by the relay when the
         * other side lacks them (the offer's own codecs stay first). */
        benc_str(&b, "codec");
        benc_dict(&b);
        re_encode_list(&b, "transcode", codecs);
        benc_end(&b);
    }
    benc_end(&b);
    return benc_finish(&b);
}

static void re_op_start(struct re_op *op)
{
    struct re_session *s = op->s;
    sip_payload_t const *pl = sip_object(op->msg)->sip_payload;
    if (!op->offer && op->to == MEDIA_TO_WS && s->hairpin && !s->bypass &&
        re_is_webrtc(pl->pl_data, pl->pl_len)) {
        /* The other browser answered its own WebRTC SDP: they talk directly. */
        log_info("media: call %s is browser to browser, the relay is bypassed", s->key);
        s->bypass = 1;
        re_send_delete(s->key);
    }
    if (!op->offer)
        re_hairpin_forget(s); /* answered: no longer a hairpin candidate */
    if (s->bypass) {
        re_op_complete(op, 0, NULL);
        return;
    }
    char *buf = malloc(RE_MAX_SDP + 4096);
    long n = re_encode(op, buf, RE_MAX_SDP + 4096);
    op->ng = n > 0 ? ng_send(buf, (size_t)n, re_op_reply, op) : 0;
    free(buf);
    if (!op->ng) {
        re_relay_errors++;
        re_op_complete(op, 503, "Service Unavailable (media relay busy or message too large)");
    }
}

static int re_has_sdp(sip_t const *sip)
{
    return sip->sip_payload && sip->sip_payload->pl_len && sip->sip_content_type &&
           sip->sip_content_type->c_type &&
           strcasecmp(sip->sip_content_type->c_type, "application/sdp") == 0;
}

static struct re_session *re_session_new(const char *key, uint64_t conn_id)
{
    struct re_session *s = calloc(1, sizeof(*s));
    s->key = strdup(key);
    s->conn_id = conn_id;
    s->offers_to = -1;
    g_queue_init(&s->ops);
    g_hash_table_insert(re_sessions, s->key, s);
    return s;
}

/* An initial INVITE towards a browser that offers the relay address of a browser's call still
 * waiting for its answer: the same call came back. It gets that browser's own offer, and its
 * leg a session without a relay call. 1 when so (done called), 0 otherwise. */
static int re_hairpin(uint64_t conn_id, const char *key, msg_t *msg, media_done_fn done, void *arg)
{
    sip_t const *sip = sip_object(msg);
    sip_payload_t const *pl = sip->sip_payload;
    char at[96];
    if (re_media_at(pl->pl_data, pl->pl_len, at, sizeof(at)) < 0)
        return 0;
    struct re_session *caller = g_hash_table_lookup(re_hairpins, at);
    char *dialog = g_strdup_printf("%s %s", sip->sip_call_id->i_id, sip->sip_from->a_tag);
    int same_call = caller && caller->dialog && strcmp(caller->dialog, dialog) == 0;
    g_free(dialog);
    /* The relay address alone would let a party that learned it (the callee) send the first
     * browser's offer, addresses and all, to anyone: the call must also be the same INVITE. */
    if (!same_call || caller->dead || !caller->ws_offer ||
        g_hash_table_size(re_sessions) >= RE_MAX_SESSIONS ||
        re_set_sdp(msg, caller->ws_offer, strlen(caller->ws_offer)) < 0)
        return 0;
    caller->hairpin = 1;
    struct re_session *s = re_session_new(key, conn_id);
    s->bypass = 1;
    s->offers_to = MEDIA_TO_WS;
    done(arg, msg, 0, NULL);
    return 1;
}

static void re_sdp(uint64_t conn_id, msg_t *msg, enum media_to to, media_done_fn done, void *arg)
{
    sip_t const *sip = sip_object(msg);
    if (!re_has_sdp(sip) || !sip->sip_call_id || !sip->sip_from || !sip->sip_to || !sip->sip_cseq) {
        done(arg, msg, 0, NULL);
        return;
    }
    if (strlen(sip->sip_call_id->i_id) > RE_MAX_CALL_ID || !sip->sip_from->a_tag ||
        sip->sip_payload->pl_len > RE_MAX_SDP) {
        done(arg, msg, 503, "Service Unavailable (call cannot be anchored: Call-ID, tag or SDP)");
        return;
    }
    int request = sip->sip_request != NULL;
    sip_method_t m = request ? sip->sip_request->rq_method : sip->sip_cseq->cs_method;
    char key[RE_MAX_CALL_ID + 340];
    re_key(key, sizeof(key), conn_id, sip->sip_call_id->i_id);
    struct re_session *s = g_hash_table_lookup(re_sessions, key);
    int offer;
    if (request && (m == sip_method_invite || m == sip_method_update))
        offer = 1;
    else if (request && (m == sip_method_ack || m == sip_method_prack))
        offer = 0;
    else if (request) {
        done(arg, msg, 0, NULL); /* SDP in other requests is not an offer/answer */
        return;
    } else
        offer = !s || s->offers_to == (int)to; /* response: answer iff last offer went back */
    const char *sender = request ? sip->sip_from->a_tag : sip->sip_to->a_tag;
    const char *other = request ? sip->sip_to->a_tag : sip->sip_from->a_tag;
    if (!sender || (!offer && (!other || !s || s->dead))) {
        done(arg, msg, 503, "Service Unavailable (answer without a media session)");
        return;
    }
    if (s && s->dead) {
        done(arg, msg, 500, "Call ended while its media was being set up");
        return;
    }
    if (s && s->bypass && g_queue_is_empty(&s->ops)) {
        done(arg, msg, 0, NULL);
        return;
    }
    int initial = request && m == sip_method_invite && !sip->sip_to->a_tag;
    if (!s && initial && to == MEDIA_TO_WS && gw->cfg->media_bypass_ws_to_ws &&
        re_hairpin(conn_id, key, msg, done, arg))
        return;
    struct re_op *op = calloc(1, sizeof(*op));
    if (!s) {
        if (g_hash_table_size(re_sessions) >= RE_MAX_SESSIONS) {
            free(op);
            done(arg, msg, 503, "Service Unavailable (too many media sessions)");
            return;
        }
        s = re_session_new(key, conn_id);
        op->created = 1;
    }
    op->s = s;
    op->msg = msg;
    op->to = to;
    op->offer = offer;
    op->initial = initial;
    op->from_tag = strdup(offer ? sender : other);
    op->to_tag = offer ? (other ? strdup(other) : NULL) : strdup(sender);
    op->done = done;
    op->arg = arg;
    if (offer)
        s->offers_to = (int)to;
    g_queue_push_tail(&s->ops, op);
    if (g_queue_get_length(&s->ops) == 1)
        re_op_start(op);
}

static void re_end_session(struct re_session *s)
{
    s->dead = 1;
    if (g_queue_is_empty(&s->ops)) {
        if (!s->bypass)
            re_send_delete(s->key);
        re_session_free(s);
    } /* else the last op to complete deletes it */
}

static void re_end(uint64_t conn_id, const char *call_id)
{
    char key[RE_MAX_CALL_ID + 340];
    if (strlen(call_id) > RE_MAX_CALL_ID)
        return;
    re_key(key, sizeof(key), conn_id, call_id);
    struct re_session *s = g_hash_table_lookup(re_sessions, key);
    if (s && !s->dead)
        re_end_session(s);
}

static void re_flow_closed(uint64_t conn_id)
{
    GList *all = g_hash_table_get_values(re_sessions);
    for (GList *l = all; l; l = l->next) {
        struct re_session *s = l->data;
        if (s->conn_id == conn_id && !s->dead)
            re_end_session(s);
    }
    g_list_free(all);
}

/* Reconciliation: relay calls with our prefix that no session of ours knows (a gateway that
 * restarted, a delete that was lost) are deleted. */
static void re_list_reply(void *arg, const struct bdoc *d, const struct bnode *root,
                          const char *err)
{
    (void)arg;
    if (err || !bdec_is(bdec_get(d, root, "result"), "ok"))
        return;
    const struct bnode *calls = bdec_get(d, root, "calls");
    unsigned stale = 0;
    size_t plen = strlen(re_prefix);
    for (const struct bnode *c = bdec_child(d, calls); c; c = bdec_next(d, c)) {
        char id[RE_MAX_CALL_ID + 340];
        if (bdec_copy(c, id, sizeof(id)) < 0 || strncmp(id, re_prefix, plen) != 0 ||
            g_hash_table_contains(re_sessions, id))
            continue;
        re_send_delete(id);
        stale++;
    }
    if (stale)
        log_info("media: reconciliation deleted %u relay session(s) without a call", stale);
}

static gboolean re_reconcile(gpointer arg)
{
    (void)arg;
    char buf[128];
    struct benc b;
    benc_init(&b, buf, sizeof(buf));
    benc_dict(&b);
    benc_kv(&b, "command", "list");
    benc_str(&b, "limit");
    benc_int(&b, RE_LIST_LIMIT);
    benc_end(&b);
    long n = benc_finish(&b);
    if (n > 0)
        ng_send(buf, (size_t)n, re_list_reply, NULL);
    return G_SOURCE_CONTINUE;
}

static int re_start(char *err, size_t errlen)
{
    if (ng_start(gw->cfg->media_relay, gw->cfg->media_timeout, err, errlen) < 0)
        return -1;
    snprintf(re_prefix, sizeof(re_prefix), "imsgw/%s/%u/", gw->cfg->sip_host, (unsigned)gw->worker);
    re_sessions = g_hash_table_new(g_str_hash, g_str_equal);
    re_hairpins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    re_reconcile(NULL); /* a restarted gateway clears what its predecessor left */
    if (gw->cfg->media_reconcile_interval > 0)
        re_reconcile_timer =
            g_timeout_add_seconds((guint)gw->cfg->media_reconcile_interval, re_reconcile, NULL);
    log_info("media: rtpengine at %s anchors calls between the WebSocket and IMS sides",
             gw->cfg->media_relay);
    return 0;
}

static void re_stop(void)
{
    if (!re_sessions)
        return;
    if (re_reconcile_timer)
        g_source_remove(re_reconcile_timer);
    re_reconcile_timer = 0;
    GList *all = g_hash_table_get_values(re_sessions);
    for (GList *l = all; l; l = l->next) {
        struct re_session *s = l->data;
        if (!s->bypass)
            re_send_delete(s->key);
        struct re_op *op;
        while ((op = g_queue_pop_head(&s->ops)) != NULL) {
            ng_cancel(op->ng);
            op->done(op->arg, op->msg, -1, NULL);
            re_op_free(op);
        }
        re_session_free(s);
    }
    g_list_free(all);
    g_hash_table_destroy(re_sessions);
    g_hash_table_destroy(re_hairpins);
    re_sessions = re_hairpins = NULL;
    ng_stop();
}

static void re_stats(struct media_stats *st)
{
    const struct ng_stats *n = ng_stats();
    st->sessions = re_sessions ? g_hash_table_size(re_sessions) : 0;
    st->relay_requests_total = n->requests_total;
    st->relay_errors_total = n->errors_total + re_relay_errors;
    st->relay_rtt_ms_total = n->rtt_ms_total;
    st->relay_answered_total = n->answered_total;
}

const struct media_backend media_rtpengine = {
    "rtpengine", re_start, re_stop, re_sdp, re_end, re_flow_closed, re_stats,
};
