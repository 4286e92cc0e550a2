/* alert: send alert events to the syslog destination. */
#include <event2/event.h>
#include <stddef.h>
#include <stdlib.h>

#include "alert.h"
#include "log.h"
#include "rules.h"
#include "sink.h"

static struct sink	*alert_sink;
static struct event	*alert_flush_ev;

/* Push alerts queued for a TCP syslog destination, once a second. */
static void
alert_flush(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 1, 0 };
	static int warned;
	const char *why;

	(void)fd;
	(void)what;
	(void)arg;
	if (alert_sink != NULL && sink_flush(alert_sink) > 0 &&
	    (why = sink_lasterror(alert_sink)) != NULL) {
		if (!warned)
			log_warnx("alerts queued: %s", why);
		warned = 1;
	} else
		warned = 0;
	evtimer_add(alert_flush_ev, &tv);
}

/* Set up on base, sending to sk (taken). */
void
alert_init(struct event_base *base, struct sink *sk)
{
	alert_sink = sk;
	if ((alert_flush_ev = evtimer_new(base, alert_flush, NULL)) == NULL)
		fatalx("evtimer_new");
	alert_flush(-1, 0, NULL);
}

/* Send from now on to sk (taken); the sink in use is closed. */
void
alert_set_sink(struct sink *sk)
{
	sink_close(alert_sink);
	alert_sink = sk;
}

/* Send every event of ev, logging those that cannot be sent. */
void
alert_send(const struct rules_events *ev)
{
	char err[512], *text;
	size_t i;

	for (i = 0; i < ev->n; i++) {
		text = rules_event_text(&ev->v[i]);
		if (alert_sink == NULL || sink_send(alert_sink,
		    ev->v[i].severity, text, err, sizeof(err)) == -1)
			log_warnx("alert not sent (%s): %s", alert_sink ? err :
			    "no syslog destination", text);
		else
			log_debug("sent: %s", text);
		free(text);
	}
	if (ev->n > 0)
		log_info("rules: %zu alert event%s", ev->n, ev->n == 1 ? "" :
		    "s");
}

/* Close the sink (after a last push of a TCP queue) and stop the timer. */
void
alert_close(void)
{
	if (alert_flush_ev != NULL)
		event_free(alert_flush_ev);
	alert_flush_ev = NULL;
	sink_close(alert_sink);
	alert_sink = NULL;
}
