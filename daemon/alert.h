/*
 * alert: the alert events of a rule run, sent on to the syslog
 * destination (the sink) from the loop.  A TCP destination's queue is
 * pushed once a second while it holds messages.
 */
#ifndef MAILDAT_ALERT_H
#define MAILDAT_ALERT_H

struct event_base;
struct rules_events;
struct sink;

/* Set up on base, sending to sk (taken). */
void	alert_init(struct event_base *base, struct sink *sk);

/* Send from now on to sk (taken); the sink in use is closed. */
void	alert_set_sink(struct sink *sk);

/* Send every event of ev, logging those that cannot be sent. */
void	alert_send(const struct rules_events *ev);

/* Close the sink (after a last push of a TCP queue) and stop the timer. */
void	alert_close(void);

#endif
