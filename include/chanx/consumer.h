/*
 * chanx/consumer.h — the plugin API of Chanx in C.
 *
 * A consumer is a static descriptor plus a few callbacks, the C form of a
 * Chanx WebSocket consumer. The framework authenticates the client at the
 * gateway (authentication and permission classes, the object queryset),
 * validates every incoming message against the consumer's schema, joins the
 * groups it builds, and only ever calls receive_message with a valid message.
 *
 *     static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
 *     {
 *         if (chanx_msg_is(msg, "ping"))
 *             return chanx_send_message(ctx, "pong", NULL);
 *         return CHANX_OK;
 *     }
 *
 *     CHANX_CONSUMER(echo) {
 *         .incoming = "{\"ping\": null}",
 *         .receive_message = receive_message,
 *     };
 *
 * Build a plugin as a shared object (cc -shared -fPIC $(pkg-config --cflags
 * chanx) -o echo.so echo.c; it links nothing) and drop it into a
 * worker's plugin folder; the file name (echo.so) is the plugin's name.
 *
 * Threading: each connection is an actor. Its callbacks (and its timers,
 * chanx/timer.h) run one at a time, in arrival order, on one of the worker's
 * CHANX_WORKER_THREADS pool threads (not always the same one); callbacks of
 * different connections run in parallel. So:
 *   - ctx, msg, chanx_state() and everything an accessor returns belong to
 *     the connection: use them from its callbacks only, without locks; never
 *     hand ctx to another thread or keep it past disconnect;
 *   - the plugin's own globals are shared by every connection on every
 *     thread: guard them yourself (a pthread_mutex_t, C11 atomics);
 *   - chanx_send_*, chanx_group_*, chanx_close and chanx_log may be called
 *     from any callback of the connection; they queue and return (the broker
 *     link has its own thread), they never wait for the network;
 *   - a callback that blocks (chanx/db.h, a sleep, a blocking HTTP client)
 *     holds up its own connection and one thread, never the others; when
 *     CHANX_MAILBOX_MAX messages wait for one connection, it is closed with
 *     1013 (try again later).
 * See "Doing work in a consumer" in docs/consumers.md.
 *
 * Ownership: everything the framework hands to a callback (ctx, msg, the
 * JSON values returned by accessors, strings) is borrowed and valid only
 * during that callback unless stated otherwise. Values passed *to* the API
 * (payloads, messages) are borrowed too: the API copies what it needs, the
 * caller keeps its reference and frees it as usual.
 *
 * Return values: callbacks and API functions return CHANX_OK (0) on success
 * and CHANX_ERROR (-1) on failure. A receive_message that returns CHANX_ERROR
 * makes the framework answer {"action":"error","payload":{"detail":"Failed
 * to process message"}} and log an error record naming the action; the
 * connection stays open. (build_groups and post_authentication failures are
 * only logged.)
 *
 * Lifecycle of one connection: the gateway authenticates the client
 * (.authentication, .permissions, .queryset); the worker then runs
 * has_permission, build_groups, sends {"action":"authentication","payload":
 * {"status_code":200,"status_text":"OK","data":{"detail":"OK"}}} and runs
 * post_authentication; then receive_message once per valid message, in
 * arrival order; at the end disconnect(ctx, close_code) with the client's
 * close code (1000, 1001, 1006 when the link dropped...), after which the
 * state is freed and every group is left.
 *
 * The authentication message is the client's ready point: when it reaches
 * the client, the groups build_groups joined are in effect at the broker
 * and the gateway, so any group message or event published after the client
 * read it (by the client itself, or by a backend that heard from it)
 * reaches it. (The joins travel ahead of the message on the worker's one
 * ordered link, and the broker applies them before it forwards the message.)
 * A message build_groups itself sends arrives before the authentication
 * message; one sent from post_authentication after it. (With
 * send_authentication_message off there is no such message: a reply to the
 * client's first message is then a ready point, by the same ordering.)
 *
 * Incoming schema (.incoming): a JSON object mapping each action to its
 * payload's schema, or to null for "no payload" ({"action":"ping"} or
 * "payload": null). The schema language is a JSON Schema subset: type (a
 * name or a list: null, boolean, integer, number, string, array, object),
 * properties, required, additionalProperties (true or false), enum, const,
 * minLength, maxLength (code points), minimum, maximum, items (one schema for
 * all), minItems, maxItems; description, title and examples are ignored. Any
 * other keyword is an error: the plugin is refused with a log line naming
 * the plugin, the consumer and the place ("plugin chat: consumer 'chat':
 * incoming schema at chat.properties.message.maxLength: expected a
 * non-negative integer"), and the worker goes on with its other plugins.
 *
 * Validation errors: an invalid message never reaches receive_message; the
 * client gets {"action":"error","payload":[{"type":...,"loc":[...],"msg":
 * ...,"input":...}]}, one entry per problem, pydantic v2's types and messages:
 *   json_invalid       not JSON                              loc []
 *   model_type         JSON, but not an object               loc []
 *   union_tag_invalid  unknown or missing action; msg names the expected actions
 *   missing            a required field (or payload) is absent   loc ["payload","message"]
 *   string_type, int_type, int_from_float, float_type, bool_type, dict_type,
 *   list_type, none_required, union_type (type lists)        wrong type
 *   string_too_short, string_too_long                        minLength, maxLength
 *   too_short, too_long                                      minItems, maxItems
 *   greater_than_equal, less_than_equal                      minimum, maximum
 *   literal_error                                            enum, const
 *   extra_forbidden                                          additionalProperties false
 * Array items are located by index: ["payload","tags",1]. An integral number
 * (36.0) in an integer field reaches the consumer as an integer.
 *
 * Flags (chanx_flag fields of the descriptor) default to the deployment's
 * settings, read by the worker from the environment (1/0, on/off, true/false):
 *   send_completion              CHANX_SEND_COMPLETION               off
 *   send_authentication_message  CHANX_SEND_AUTHENTICATION_MESSAGE   on
 *   log_received_message         CHANX_LOG_RECEIVED_MESSAGE          on
 *   log_sent_message             CHANX_LOG_SENT_MESSAGE              on
 *   camelize                     CHANX_CAMELIZE                      off
 *   log_ignored_actions          CHANX_LOG_IGNORED_ACTIONS ("ping,pong"): added to the consumer's list
 * With send_completion, the sender gets {"action":"complete","payload":null}
 * after each message it sent was handled, valid or not (on a topic: see Topics); every recipient of a
 * group message gets {"action":"group_complete","payload":null} right after
 * it. With camelize, the keys of incoming messages are converted to
 * snake_case before validation (schemas and consumers use snake_case) and
 * the keys of everything sent to camelCase (is_mine becomes isMine); values,
 * actions and error locations are not converted.
 *
 * Logging: JSON records on the worker's stderr (colored text on a terminal)
 * at CHANX_LOG_LEVEL (default info). "Received websocket json" and "Sent
 * websocket json" records carry conn (the connection id), message_id (a
 * short id of the message being handled, also on the replies it caused),
 * action, consumer, path, client and user_id; a group message is logged
 * once by its sender, with its groups. Payloads, tokens and cookies are
 * never logged. chanx_log() adds records of your own with the same fields.
 *
 * Compatibility (the plugin ABI; libtool's current/age rule in plugin terms):
 * a plugin records the API level it was built for (CHANX_API_VERSION) and
 * the size of its descriptor (sizeof(chanx_consumer)) when it registers. A
 * worker speaks every level from CHANX_API_OLDEST to its CHANX_API_VERSION:
 *   - A minor release raises CHANX_API_VERSION and may only APPEND fields to
 *     chanx_consumer (a field's zero value always means the old behaviour)
 *     and ADD functions. A worker copies the bytes a plugin declared into a
 *     zeroed descriptor of its own size, so a plugin built against an older
 *     header loads unchanged and the fields it lacks take their defaults.
 *   - A major release (removing or changing a field, a function, a constant
 *     or a callback's meaning) raises CHANX_API_OLDEST to the new level:
 *     plugins built before it must be rebuilt.
 *   - A plugin built for a newer level than the worker speaks, or an older
 *     one than its CHANX_API_OLDEST, is refused whole, and the worker serves
 *     its other plugins: "refused plugin chat: built for plugin API 4, this
 *     worker speaks 1..3". So is a descriptor larger than the worker's for
 *     its level (a header with fields this worker lacks). A plugin calling
 *     a function the worker does not have is refused at load the same way
 *     ("refused plugin chat: undefined symbol chanx_foo: not in the plugin
 *     API (a typo?)...", with the name meant when it is a near miss)
 *     instead of crashing at the call.
 *   - The worker exports only the chanx_* functions declared here (version
 *     node CHANX_<level> of the level that added them); nothing else of the
 *     worker is visible to plugins. (One libc function besides: getpid(),
 *     answered from memory for libzmq's sake; a plugin calling it gets the
 *     pid libc would give.)
 * Level history: 1, the first release (chanx_register_consumer, no size);
 * 2, descriptors registered with their size (chanx_register_consumer_sized);
 * 3, topics (.topics, chanx_topic, chanx_topic_*, chanx_ref), chanx_restarted.
 *
 * Topics (Chanx 2.10's Topic, docs/user-guide/topics.rst and chanx/core/topic.py in
 * huynguyengl99/chanx): one connection serves many subscribable streams, each with its own
 * pattern, authorization, schema, handlers and channel group. The wire protocol is Chanx's: routing
 * fields travel flat beside the action (version, topic, ref; seq on published events):
 *     -> {"version": 1, "topic": "room:lobby", "ref": "1", "action": "subscribe"}
 *     <- {"version": 1, "topic": "room:lobby", "ref": "1", "action": "subscribed"}
 *     -> {"version": 1, "topic": "room:lobby", "ref": "2", "action": "say", "payload": {...}}
 *     <- {"version": 1, "topic": "room:lobby", "action": "said", "payload": {...}}      (a push)
 *     -> {"version": 1, "topic": "room:lobby", "ref": "3", "action": "unsubscribe"}
 *     <- {"version": 1, "topic": "room:lobby", "ref": "3", "action": "unsubscribed"}
 *     <- {"version": 1, "topic": "nope:1", "ref": "4", "action": "error",
 *         "payload": {"reason": "unknown_topic", "detail": "Unknown topic 'nope:1'"}}
 * Reasons: unknown_topic (no pattern of this consumer matches), unauthorized (authorize refused),
 * not_subscribed (a frame for a topic this connection has not subscribed to), and, beyond Chanx,
 * too_many_subscriptions (CHANX_TOPIC_SUBSCRIPTIONS_MAX, default 100, subscriptions per
 * connection). A frame naming no topic goes to the consumer's own receive_message, as before;
 * when it carries a ref, what receive_message sends carries it too (Chanx 2.11.2). The envelope
 * is checked first: version must be 1, topic and ref strings of at most 256 characters (code
 * points, as pydantic counts them, not bytes); a bad one is answered with a plain
 * {"action":"error","payload":[{"type","loc":["topic"],"msg"}]} (pydantic's shape, no input) and
 * nothing else happens. A frame on a topic that fails the topic's schema is answered on that
 * topic, with its ref, with the usual error list. With send_completion, a frame a subscribed topic
 * handled (valid or not) is followed by {"action":"complete","payload":null} on that topic, with
 * its ref (Chanx's Topic.handle_json); subscribe, unsubscribe, topic errors and bad envelopes get
 * no completion. On a topic's own route a refused subscription (unauthorized, unknown_topic, or a
 * filled-in topic past 256 characters: the envelope's error) leaves the connection open, its
 * frames answered not_subscribed, as Chanx's as_consumer() does.
 *
 * Inside a topic's callbacks, chanx_send_message and chanx_send_json go out on that topic
 * (stamped "version": 1, "topic", and the ref of the frame being handled, if any): replies need
 * no bookkeeping. on_subscribe runs after the join with no ref (what it sends is state, not a
 * reply); on_unsubscribe runs before the leave, on unsubscribe and on disconnect, with no ref on
 * disconnect. A duplicate subscribe is answered subscribed again and runs nothing.
 *
 * Groups: a topic is joined as the channel group safe_group_name(topic, namespace=<.name>), Chanx's
 * rule with the topic's declared .name standing for Chanx's class name: "room:lobby" of the topic
 * named "RoomTopic" is the group "RoomTopic.room-lobby" (unsafe characters become '-', names over
 * 99 characters are cut to 86 plus '.' and a 12-hex BLAKE2s digest). So a Django process calling
 * RoomTopic.broadcast("room:lobby", event) reaches the subscribers of a C consumer whose topic is
 * named "RoomTopic". Give two different topics different names.
 */
#ifndef CHANX_CONSUMER_H
#define CHANX_CONSUMER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The plugin API level this header describes, and the oldest level it is compatible with (see
 * "Compatibility" above). A worker built from this header loads plugins built for any level in
 * CHANX_API_OLDEST..CHANX_API_VERSION. */
#define CHANX_API_VERSION 3
#define CHANX_API_OLDEST 1

enum { CHANX_OK = 0, CHANX_ERROR = -1 };

/* Per-consumer flags: CHANX_DEFAULT takes the deployment-wide setting (environment, CHANX_*). */
typedef enum { CHANX_DEFAULT = 0, CHANX_ON = 1, CHANX_OFF = 2 } chanx_flag;

/* send_group_message options. Chanx excludes the sender by default. */
#define CHANX_EXCLUDE_CURRENT 0x0
#define CHANX_INCLUDE_CURRENT 0x1

/* Authentication classes (DRF's), tried in order; the first that identifies the client wins. */
#define CHANX_TOKEN_AUTH "token"       /* Authorization: Token <key>, or ?token=<key> (authtoken_token) */
#define CHANX_SESSION_AUTH "session"   /* Django's sessionid cookie (django_session) */
#define CHANX_JWT_AUTH "jwt"           /* Authorization: Bearer <simplejwt HS256 access token> */

/* Permission classes (DRF's). An entry may compose them with &, |, ~ and parentheses:
 * "IsAuthenticated & (IsAdminUser | ~IsSuperUser)". All entries must allow, as DRF's list. */
#define CHANX_ALLOW_ANY "AllowAny"
#define CHANX_IS_AUTHENTICATED "IsAuthenticated"
#define CHANX_IS_ADMIN_USER "IsAdminUser"
#define CHANX_IS_SUPERUSER "IsSuperUser"

/* NULL-terminated lists of strings for the descriptor's list fields, as compound literals with
 * static storage (at file scope): CHANX_ROUTES("<str:room_id>/", "lobby/") for .routes, and so on.
 * CHANX_ACTIONS names actions (.log_ignored_actions, .passthrough_events): CHANX_ACTIONS("ping", "pong").
 * All expand to the same `const char *const[]`, so lists written before CHANX_ACTIONS existed, with
 * CHANX_ROUTES("ping", "pong"), compile and load unchanged. */
#define CHANX_ROUTES(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define CHANX_ACTIONS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define CHANX_AUTHENTICATION(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define CHANX_PERMISSIONS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define CHANX_SUBPROTOCOLS(...) ((const char *const[]) { __VA_ARGS__, NULL })

typedef struct chanx_ctx chanx_ctx;         /* one connection's consumer instance */
typedef struct chanx_msg chanx_msg;         /* one validated incoming message */
typedef struct chanx_groups chanx_groups;   /* the groups build_groups fills */

/* The authenticated user, as read from auth_user (Django's User). id is 0 for anonymous. */
typedef struct {
    int64_t id;
    const char *username;
    int is_authenticated;
    int is_staff;
    int is_superuser;
} chanx_user;

/* What has_permission answers when it denies: an HTTP-like status and DRF's detail. */
typedef struct {
    int status;           /* 403 when left 0 */
    const char *detail;   /* "You do not have permission to perform this action." when NULL */
} chanx_denial;

typedef struct chanx_topic chanx_topic;

typedef struct chanx_consumer {
    /* Routes relative to where the deployment mounts the plugin ("ws/<plugin>/" by default).
     * Django path() syntax with converters ("<str:room_id>/", "<int:id>/"), or re_path() when the
     * pattern starts with "re:" ("re:^(?P<user_id>\\w+)/$"). Default: "" (the mount point itself). */
    const char *const *routes;

    /* Who may connect, decided at the gateway before a worker sees the client. */
    const char *const *authentication;   /* default: CHANX_AUTHENTICATION(CHANX_TOKEN_AUTH) */
    const char *const *permissions;      /* default: CHANX_PERMISSIONS(CHANX_IS_AUTHENTICATED) */
    /* Object-level permission (DRF's get_object + has_object_permission), as parameterized SQL:
     * $name is the URL kwarg "name", $user_id the authenticated user's id. The queryset's first row
     * becomes chanx_obj() (column names as keys); no row answers 404. object_permission must return
     * a row for the connection to be allowed; no row answers 403. With has_permission, DRF's order
     * holds: has_permission runs first (chanx_obj() is NULL there when no row was found) and its
     * refusal wins; the 404 / 403 follow only if it allows. */
    const char *queryset;
    const char *object_permission;
    const char *auth_method;             /* the HTTP method permissions see; default "GET" */

    /* Incoming messages: a JSON object mapping each action to its payload schema (a JSON Schema
     * subset, see README), or null for "no payload". Messages that do not validate are answered with
     * {"action":"error","payload":[...]} and never reach receive_message. */
    const char *incoming;
    const char *action_key;              /* default "action" (Chanx's MESSAGE_ACTION_KEY) */

    size_t state_size;                   /* bytes of zeroed per-connection state, see chanx_state() */

    /* Callbacks; all optional except receive_message. */
    int (*has_permission)(chanx_ctx *ctx, chanx_denial *denial);   /* CHANX_OK allows */
    int (*build_groups)(chanx_ctx *ctx, chanx_groups *groups);
    int (*post_authentication)(chanx_ctx *ctx);
    int (*receive_message)(chanx_ctx *ctx, const chanx_msg *msg);
    void (*disconnect)(chanx_ctx *ctx, int close_code);

    /* Chanx's settings, per consumer. (Chanx's send_message_immediately has no counterpart here:
     * every send leaves the worker at once, and the gateway never holds a frame back waiting for
     * others; frames that reach it together share one write. There is no delay to turn off.) */
    chanx_flag send_completion;              /* {"action":"complete"} after each handled message; default off */
    chanx_flag send_authentication_message;  /* the authentication status message; default on */
    chanx_flag log_received_message;         /* log "Received websocket json"; default on */
    chanx_flag log_sent_message;             /* log "Sent websocket json"; default on */
    chanx_flag camelize;                     /* snake_case inside, camelCase on the wire; default off */
    const char *const *log_ignored_actions;  /* actions never logged, e.g. CHANX_ACTIONS("ping", "pong") */

    /* WebSocket subprotocols this consumer speaks, NULL-terminated: CHANX_SUBPROTOCOLS("chanx.v1").
     * The gateway answers Sec-WebSocket-Protocol with the first of the client's offers found here
     * (RFC 6455 §4.2.2; names are RFC 7230 tokens, at most 63 bytes, compared case-sensitively), and
     * with no header when none is, or when this is NULL: an offer never makes the connection fail at
     * the gateway. Browsers fail a connection that offered subprotocols and got none back, so a
     * browser client should offer one listed here. chanx_subprotocol() tells which was chosen. */
    const char *const *subprotocols;
    /* Outgoing messages, for documentation: a JSON object mapping each action this consumer sends
     * to its payload's schema (the language of .incoming), or null for no payload. The worker checks
     * it when the plugin loads (an invalid schema refuses the plugin, as .incoming does) but does not
     * validate what the consumer sends. It becomes the send operations of the deployment's AsyncAPI
     * document (/asyncapi.json); "examples" in a schema become the document's examples. */
    const char *outgoing;
    /* Server-side events: what the application publishes (chanx-api, the Python client, Django's
     * channel layer) to groups, a user or a connection, as {"action": ..., "payload": ...}; Chanx's
     * broadcast_event / send_event and @event_handler. (Appended fields: see CHANX_API_VERSION.)
     *
     * events: a JSON object mapping each action to its payload schema, the same language and errors
     * as .incoming. receive_event runs once per recipient connection, in this worker, in order with
     * that connection's messages, only with events that validate (an invalid one is logged and
     * dropped); it may send, join or leave groups, read chanx_user_of to filter, or close. Its
     * CHANX_ERROR is logged ("Failed to process event"); clients are not told. With send_completion
     * the recipient then gets {"action":"event_complete","payload":null}.
     *
     * passthrough_events: actions that go to clients as they are, without a worker hop and without
     * validation: the gateway fans them out as it does group messages. Listed here, an action never
     * reaches receive_event. Events a consumer neither passes through nor handles are dropped with
     * one log record per event and worker. */
    const char *events;
    const char *const *passthrough_events;    /* e.g. CHANX_ACTIONS("notify"), NULL-terminated */
    int (*receive_event)(chanx_ctx *ctx, const chanx_msg *event);
    /* How many messages a client may send, as DRF's throttle rates: "<number>/<period>" with the
     * period's first letter s, m, h or d ("20/s", "600/min"), per connection, counted at the gateway
     * before a worker is involved. A message over the rate never reaches receive_message: the client
     * gets {"action":"error","payload":{"detail":"Request was throttled. Expected available in N
     * seconds."}} (DRF's Throttled text); a client that sends twice its rate is closed with 1008.
     * Both reach the client after this consumer's answers to its earlier messages, in order.
     * "none" turns throttling off for this consumer; NULL takes CHANX_THROTTLE_RATE (default none).
     * A malformed rate refuses the plugin with a log line naming the consumer. (Appended field.) */
    const char *throttle_rate;

    /* Topics this consumer serves (API 3), NULL-terminated: CHANX_TOPICS(&room_topic). A frame's
     * topic is matched against their patterns in order, the first match wins (Chanx's _match). */
    const chanx_topic *const *topics;

    /* History and recovery (appended, API 3): the broker keeps the last history_size
     * messages sent to each group this consumer joins, for history_ttl seconds, and stamps each group
     * message with the group's "seq" (Chanx's envelope field, consecutive per group). 0: no history
     * (the old behaviour); CHANX_HISTORY_DEFAULT: the deployment's CHANX_HISTORY_SIZE (100) and
     * CHANX_HISTORY_TTL_MS (5 minutes). The broker also bounds each group's held bytes
     * (CHANX_HISTORY_MAX_BYTES). Joining such a group sends the client
     *     {"action":"recovery","payload":{"group","epoch","seq"[,"recovered"]}}
     * and a client that reconnects with ?since=<epoch>:<seq> (several: comma-separated, one per
     * group) gets, after that frame with "recovered": true, exactly the group messages it missed,
     * then the live ones; "recovered": false says history cannot cover the gap (trimmed, expired,
     * another epoch: the broker restarted), and the client reloads from its source. For the groups
     * of build_groups, all of it comes before the authentication message. */
    int history_size;                         /* messages per group; 0 none, CHANX_HISTORY_DEFAULT */
    int history_ttl;                          /* seconds; 0 or CHANX_HISTORY_DEFAULT: the deployment's */

    /* Presence pushes (appended): nonzero, and the members of each group this consumer's connections
     * join get {"action":"presence_joined","payload":{"group","user_id","username"}} when a user's
     * first connection joins it, and "presence_left" when their last one leaves (a closed tab, a
     * disconnect, their gateway declared dead): one per user, not per tab, anonymous connections
     * never. The joining connection itself is not told. Sent by the broker as raw JSON, as they are
     * (no is_mine, no seq, not camelized). Who is there now: chanx_group_presence(). */
    int presence_pushes;
} chanx_consumer;
#define CHANX_HISTORY_DEFAULT (-1)

#define CHANX_TOPICS(...) ((const chanx_topic *const[]) { __VA_ARGS__, NULL })

/* One topic (Chanx's Topic subclass). Static, like the descriptor; the worker reads it when the
 * plugin loads and refuses the plugin, naming the place, for a missing name or pattern, a bad
 * pattern, a bad schema or route, or two topics of one consumer with one name. Fields appended by a
 * later API level are read only from plugins built for that level. */
struct chanx_topic {
    /* Chanx's class name: the group namespace (see "Groups" above) and the AsyncAPI channel's
     * x-topic name. Required; [A-Za-z0-9_-] keeps it as written in group names. */
    const char *name;
    /* "room:{name}": literal text and {parameters} ([A-Za-z0-9_] names); a parameter matches one or
     * more characters other than ':', and the whole topic must match. Required. */
    const char *pattern;
    /* The topic's own incoming schema (the language of .incoming). Frames on the topic are checked
     * against it, not the consumer's; "subscribe" and "unsubscribe" are the protocol's and never
     * reach receive_message. NULL: every action reaches receive_message unchecked. */
    const char *incoming;
    /* What the topic sends, for the AsyncAPI document (as .outgoing). */
    const char *outgoing;
    /* Chanx's Topic.as_consumer(): a route of its own, relative to the consumer's mount like
     * .routes ("room/<str:name>/"). Connecting there is the subscription (the URL kwargs fill the
     * pattern; the topic must have no parameter the route lacks), and frames without a topic
     * belong to it, so clients need no envelope. Same group as the multiplexed form. NULL: none. */
    const char *route;
    /* CHANX_OK lets this connection subscribe; anything else answers unauthorized. NULL allows.
     * chanx_topic_param() reads the pattern's values. Runs before the join. */
    int (*authorize)(chanx_ctx *ctx);
    /* After the join and the subscribed reply; sends carry the topic but no ref. Optional. */
    int (*on_subscribe)(chanx_ctx *ctx);
    /* Before the leave, on unsubscribe (sends carry its ref) and on disconnect (nothing can be
     * sent any more to the client, but groups and other connections can be told). Optional. */
    void (*on_unsubscribe)(chanx_ctx *ctx);
    /* Each valid frame on the topic from a subscribed connection; replies go out on the topic with
     * the frame's ref. CHANX_ERROR answers {"detail": "Failed to process message for <action>"} on the topic.
     * Required. */
    int (*receive_message)(chanx_ctx *ctx, const chanx_msg *msg);
    /* Events published to the topic (chanx-api {"topic": "room:lobby", "event": ...}, Django's
     * RoomTopic.broadcast) that reach its subscribers as they are, stamped with "version" and
     * "topic", without a worker hop: the gateways fan them out as they do .passthrough_events.
     * An event published to a topic and listed here for no topic is dropped. */
    const char *const *passthrough_events;
    /* History and recovery for the topic's group (as the consumer's .history_size / .history_ttl, see
     * there): its pushes carry "seq", and "subscribe" may carry "payload": {"since": {"epoch": E,
     * "seq": N}} (on the topic's own route: ?since=E:N). The "subscribed" reply then carries
     * {"epoch", "seq"} and, with a since, "recovered": true followed by exactly the pushes after N,
     * before on_subscribe's and the live ones, or "recovered": false (trimmed, expired, another
     * epoch: reload). A since that makes no sense (a negative or non-integer seq, an epoch that is not
     * a string of 1..64 characters) is "recovered": false. 0: no history. */
    int history_size;
    int history_ttl;
    /* Presence pushes to the topic's subscribers (as the consumer's .presence_pushes). */
    int presence_pushes;
};

/* Registers a consumer when its plugin is loaded. Use as:  CHANX_CONSUMER(name) { .field = ..., };
 * The registration records the API level and the descriptor's size this plugin was compiled with. */
#define CHANX_CONSUMER(name)                                                                \
    static const chanx_consumer chanx__consumer_##name;                                     \
    __attribute__((constructor)) static void chanx__register_##name(void)                  \
    {                                                                                       \
        chanx_register_consumer_sized(CHANX_API_VERSION, sizeof(chanx_consumer), #name,     \
                                      &chanx__consumer_##name);                             \
    }                                                                                       \
    static const chanx_consumer chanx__consumer_##name =

/* Called by CHANX_CONSUMER; plugins do not call it directly. descriptor_size is
 * sizeof(chanx_consumer) in the plugin: the worker reads that many bytes and no more. Since API 2. */
void chanx_register_consumer_sized(int api_version, size_t descriptor_size, const char *name,
                                   const chanx_consumer *consumer);
/* API 1's registration, kept for plugins built against it: their descriptor is API 1's fields. */
void chanx_register_consumer(int api_version, const char *name, const chanx_consumer *consumer);

/* ------------------------------------------------------------------ context */

void *chanx_state(chanx_ctx *ctx);                       /* state_size zeroed bytes, freed after disconnect */
const chanx_user *chanx_user_of(const chanx_ctx *ctx);
/* How the user was authenticated: CHANX_TOKEN_AUTH ("token"), CHANX_SESSION_AUTH ("session") or
 * CHANX_JWT_AUTH ("jwt"), the DRF class that identified them; NULL for an anonymous connection. A
 * static string. The credential itself never reaches a worker: the gateway removes the token and JWT
 * query parameters, the session and JWT cookies and the Authorization header before CONNECT
 * (docs/security.md). */
const char *chanx_auth_class(const chanx_ctx *ctx);
/* 1 when this consumer took over a connection whose consumer died with its worker process (another
 * plugin's crash, docs/consumers.md "When a consumer crashes"), 0 for a fresh connection. A restarted
 * consumer runs has_permission, build_groups and post_authentication again, but its client, already
 * told once, gets no second authentication message; what the old consumer kept in its state is gone, so
 * post_authentication may use this to send the client what it needs to resync. Any thread of the
 * connection's callbacks; the context's, like every accessor here. Since API 3. */
int chanx_restarted(const chanx_ctx *ctx);
const json_t *chanx_obj(const chanx_ctx *ctx);           /* the queryset's row, or NULL */
const char *chanx_consumer_name(const chanx_ctx *ctx);   /* "plugin.consumer" */
uint64_t chanx_connection_id(const chanx_ctx *ctx);     /* unique per gateway process, below 2^63; "conn" in logs */
const char *chanx_path(const chanx_ctx *ctx);            /* the request path, decoded */
const char *chanx_client_addr(const chanx_ctx *ctx);
/* Request headers by lowercase name, NULL if absent. The gateway forwards every standard HTTP header
 * but authorization (credentials stay at the edge), and the custom ones (X-Request-Id, ...) named in
 * the deployment's CHANX_FORWARD_HEADERS, comma-separated. The cookie header and chanx_cookie lack the
 * session cookie (CHANX_SESSION_COOKIE_NAME) and the JWT cookie (CHANX_JWT_COOKIE); the query lacks
 * token and CHANX_JWT_QUERY_PARAM: the gateway keeps credentials. */
const char *chanx_header(const chanx_ctx *ctx, const char *name);
const char *chanx_cookie(const chanx_ctx *ctx, const char *name);
const json_t *chanx_url_kwargs(const chanx_ctx *ctx);    /* object; int converters give integers */
const char *chanx_url_kwarg(const chanx_ctx *ctx, const char *name);   /* any kwarg as text, or NULL */
const char *chanx_query_param(const chanx_ctx *ctx, const char *name); /* first value, decoded, or NULL */
const json_t *chanx_query_params(const chanx_ctx *ctx);  /* name → array of values */
/* The subprotocol the gateway answered the handshake with (an entry of .subprotocols, borrowed), or
 * NULL when none was chosen. Django Channels' accept(subprotocol=...), decided from the declaration. */
const char *chanx_subprotocol(const chanx_ctx *ctx);

/* ------------------------------------------------------------------ messages */

const char *chanx_msg_action(const chanx_msg *msg);
int chanx_msg_is(const chanx_msg *msg, const char *action);
const json_t *chanx_msg_payload(const chanx_msg *msg);   /* NULL when the message has none */
const json_t *chanx_msg_json(const chanx_msg *msg);      /* the whole message object */

/* ------------------------------------------------------------------ sending */

/* {"action": action, "payload": payload} to this connection. payload may be NULL (null). */
int chanx_send_message(chanx_ctx *ctx, const char *action, const json_t *payload);
/* Any JSON object to this connection, as is (Chanx's kind="json"). */
int chanx_send_json(chanx_ctx *ctx, const json_t *message);
/* {"action", "payload", "is_mine", "is_current"} to every member of groups (NULL: the groups this
 * connection joined, however many; explicit groups need not include any of them, and a name that breaks
 * Channels' rule (see chanx_group_add) makes the call CHANX_ERROR with nothing sent). A connection in
 * several of the groups gets the message once. is_mine: the recipient is the
 * sender's authenticated user; is_current: the recipient is this very connection. options:
 * CHANX_EXCLUDE_CURRENT (Chanx's default) or CHANX_INCLUDE_CURRENT. A connection receives what is sent
 * to it, direct or group, in send order. Usable from disconnect too (e.g. to tell an explicit group). */
int chanx_send_group_message(chanx_ctx *ctx, const char *action, const json_t *payload,
                             const char *const *groups, int options);
/* A JSON object to every member of groups, as is: no is_mine/is_current. */
int chanx_send_group_json(chanx_ctx *ctx, const json_t *message, const char *const *groups, int options);
/* Joins or leaves a group at any time (build_groups only calls chanx_groups_add for you). Joining
 * twice is a no-op; leaving a group not joined too. Every group is left when the connection ends.
 * A group name follows Django Channels' rule: ASCII letters, digits, hyphens, underscores and periods,
 * 1 to 99 characters; one connection is in at most CHANX_MAX_GROUPS_PER_CONNECTION groups (1000).
 * Joining past either is CHANX_ERROR, with a warning record "group refused" naming the connection.
 * A join is in effect at the broker before anything the connection sends after it reaches the
 * client (so a "joined" reply is a ready point too, as the authentication message is). */
int chanx_group_add(chanx_ctx *ctx, const char *group);
int chanx_group_discard(chanx_ctx *ctx, const char *group);
/* Closes the connection with a WebSocket close code (1000, 4000-4999...). */
int chanx_close(chanx_ctx *ctx, int code);

/* Who is in group now, as POST /api/presence answers it (docs/events.md): {"group", "count",
 * "next", "users": [{"user_id", "username", "connections": [{"connection", "gateway",
 * "connected_since"}]}], "anonymous", "truncated"}, its first page: the 1,000 users of lowest id,
 * "count" every user, "next" non-null (and "truncated" true) when there were more; or with stats
 * nonzero only {"group", "users", "connections", "anonymous"}, counting everyone; {"error": "group_not_found", "group"} when nobody is in it. A new reference (the
 * caller decrefs), or NULL when the broker does not answer within 2 s or the call is made outside a
 * consumer callback. Asks the broker and waits for it, like a database query: it holds up this
 * connection's thread for a round trip. Any group, not only the connection's. */
json_t *chanx_group_presence(chanx_ctx *ctx, const char *group, int stats);
/* The same for the topic whose callback is running (its group); NULL outside a topic's callback. */
json_t *chanx_topic_presence(chanx_ctx *ctx, int stats);

/* ------------------------------------------------------------------ topics (API 3) */

/* The topic whose callback is running ("room:lobby"), NULL in the consumer's own callbacks.
 * Borrowed, valid during the callback. */
const char *chanx_topic_name(const chanx_ctx *ctx);
/* A parameter of that topic's pattern ("name" of "room:{name}" → "lobby"), NULL if none. */
const char *chanx_topic_param(const chanx_ctx *ctx, const char *name);
/* The ref of the frame being handled, NULL when it had none (pushes, on_subscribe, timers). */
const char *chanx_ref(const chanx_ctx *ctx);
/* {"action", "payload", "version": 1, "topic": topic} to every subscriber of topic, this connection
 * included when it is one: Chanx's Topic.broadcast from inside a consumer. topic must match one of
 * this consumer's topics (its name gives the group); CHANX_ERROR otherwise. A push: no ref, and no
 * group_complete after it with send_completion (Chanx's handle_topic_event sends none). */
int chanx_topic_publish(chanx_ctx *ctx, const char *topic, const char *action, const json_t *payload);

/* ------------------------------------------------------------------ groups */

int chanx_groups_add(chanx_groups *groups, const char *name);
int chanx_groups_addf(chanx_groups *groups, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ logging */

typedef enum { CHANX_LOG_DEBUG, CHANX_LOG_INFO, CHANX_LOG_WARNING, CHANX_LOG_ERROR } chanx_log_level;
/* A structured log line carrying the connection's id, path, user and client address. */
void chanx_log(const chanx_ctx *ctx, chanx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
