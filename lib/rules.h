/*
 * rules: the rule engine.  A rule is one read-only SELECT over the public
 * views returning one row per finding, with columns key and message (and
 * optionally severity, and any others, which travel with the alert's
 * events).  A rule run runs every enabled rule and reconciles the alert
 * table in one transaction: a new key opens an alert (raised), a key found
 * again keeps it open (updated at once when its message or severity
 * changed, repeated after renotify), a key no longer found clears it.
 *
 * A rule whose query fails or overruns its time limit keeps its alerts as
 * they are and opens an alert of its own, rule-failed, until it runs again.
 */
#ifndef MAILDAT_RULES_H
#define MAILDAT_RULES_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct conf_errors;
struct store;

/* The alert text sent to syslog is cut near this, with "(and N more)". */
#define RULES_TEXT_MAX		1000

/* A built-in rule as shipped in schema/rules.sql. */
struct rules_builtin {
	const char	*name;
	const char	*severity;	/* syslog name: "err", "warning" */
	const char	*sql;
};
extern const struct rules_builtin rules_builtins[];
extern const size_t rules_nbuiltins;

/* The rule that reports failed rules; it has no query. */
#define RULES_FAILED	"rule-failed"

struct rule {
	char		*name;
	int		 builtin;
	int		 severity;	/* LOG_* */
	char		*sql;
	int64_t		 renotify_ms;	/* 0: never repeated */
};

struct rules {
	struct rule	*v;
	size_t		 n;
	int		 unreachable_after;	/* bound to :unreachable_after */
	int64_t		 timeout_ms;		/* per rule query */
	int		 failed_enabled;	/* rule-failed is on */
	int		 failed_severity;
};

enum rules_what {
	RULES_RAISED,
	RULES_UPDATED,
	RULES_REPEATED,
	RULES_CLEARED
};

struct rules_event {
	enum rules_what	 what;
	int64_t		 id;		/* alert id */
	char		*rule;
	int		 severity;	/* LOG_* */
	char		*key;
	char		*message;
	size_t		 ncols;		/* the rule row's columns; none when */
	char		**names;	/* cleared */
	char		**values;	/* NULL for a NULL column */
};

struct rules_events {
	struct rules_event *v;
	size_t		 n;
};

/*
 * Build the rules of configuration c: the built-in rules not switched off
 * (with their configured severity and renotify), then the user rules.  Each
 * query is checked on st (the schema only is needed) and must be one
 * read-only statement returning columns key and message.  Returns 0, or -1
 * with every problem appended to errs.
 */
int	rules_build(const struct conf *c, struct store *st, struct rules *out,
	    struct conf_errors *errs);

/* Free the rules in rs. */
void	rules_free(struct rules *rs);

/*
 * Run every rule of rs over st's database at time now_us and reconcile the
 * alerts in one transaction; open alerts of rules no longer in rs are
 * cleared.  On success the events to send are appended to ev.  Returns 0,
 * or -1 with err and nothing changed.
 */
int	rules_eval(struct store *st, const struct rules *rs, int64_t now_us,
	    struct rules_events *ev, char *err, size_t errlen);

/* Return the name of an event kind: "raised", "updated", ... */
const char *rules_what_name(enum rules_what w);

/* Free the events in ev. */
void	rules_events_free(struct rules_events *ev);

/*
 * Return the text of event e for syslog (the sink escapes control
 * characters): "alert 17 raised: duplicate-serial [err]: MESSAGE", with a
 * message past RULES_TEXT_MAX bytes cut at a ", " between its items and
 * "(and N more)" added; the whole message stays in the database.
 */
char	*rules_event_text(const struct rules_event *e);

/*
 * Return the shortest renotify of rs's rules in ms, or 0 when none
 * repeats: runs with nothing new to see may be skipped for no longer.
 */
int64_t	 rules_renotify_min(const struct rules *rs);

#endif
