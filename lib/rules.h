/*
 * rules: the rule engine.  A rule is one read-only SELECT over the public
 * views returning one row per finding, with columns key and message (and
 * optionally severity).  After each crawl round the engine runs every
 * enabled rule and reconciles the alert table in one transaction: a new key
 * opens an alert, a key still found keeps its alert open, a key no longer
 * found clears it.  Each raise and clear, and each repeat of an alert still
 * open after its renotify interval, is an event for the caller to send.
 */
#ifndef MAILDAT_RULES_H
#define MAILDAT_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

struct conf;
struct conf_errors;
struct store;

/* A built-in rule as shipped in schema/rules.sql. */
struct rules_builtin {
	const char	*name;
	const char	*severity;	/* syslog name: "err", "warning" */
	const char	*sql;
};
extern const struct rules_builtin rules_builtins[];
extern const size_t rules_nbuiltins;

struct rule {
	char		*name;
	int		 builtin;
	int		 severity;	/* LOG_* */
	char		*sql;
	int64_t		 renotify_ms;
};

struct rules {
	struct rule	*v;
	size_t		 n;
	int		 unreachable_after;	/* bound to :unreachable_after */
};

enum rules_what {
	RULES_RAISED,
	RULES_CLEARED,
	RULES_REPEATED
};

struct rules_event {
	enum rules_what	 what;
	int64_t		 id;		/* alert id */
	char		*rule;
	int		 severity;	/* LOG_* */
	char		*message;
};

struct rules_events {
	struct rules_event *v;
	size_t		 n;
};

/*
 * Build the rules of configuration c: the built-in rules not switched off
 * (with their configured severity and renotify), then the user rules.  Each
 * query is prepared on db and must be one read-only statement returning
 * columns key and message.  Returns 0, or -1 with every problem in errs.
 */
int	rules_build(const struct conf *c, sqlite3 *db, struct rules *out,
	    struct conf_errors *errs);

/* Free the rules in rs. */
void	rules_free(struct rules *rs);

/*
 * Run every rule of rs over st's database at time now_us and reconcile the
 * alerts in one BEGIN IMMEDIATE transaction; open alerts of rules no longer
 * in rs are cleared.  On success the events to send are appended to ev.
 * Returns 0, or -1 with err and nothing changed.
 */
int	rules_eval(struct store *st, const struct rules *rs, int64_t now_us,
	    struct rules_events *ev, char *err, size_t errlen);

/* Free the events in ev. */
void	rules_events_free(struct rules_events *ev);

/*
 * Return the text of event e for syslog (the sink escapes control
 * characters): "alert 17 raised: duplicate-serial [err]: The postoffice ...".
 */
char	*rules_event_text(const struct rules_event *e);

#endif
