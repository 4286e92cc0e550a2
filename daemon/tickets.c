/* tickets: ticket caches for keytab credentials, renewed before expiry. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "krb.h"
#include "log.h"
#include "tickets.h"
#include "xmalloc.h"

#define TICKETS_CHECK_S		30	/* how often renewals are looked at */

struct ticket {
	char			*name;		/* of the [credentials] */
	struct krb_keytab	*kt;		/* a reference */
	char			*keytab;	/* its path, for messages */
	char			*principal;	/* NULL: the keytab's first */
	char			*path;		/* the cache file */
	char			*ccname;	/* "FILE:" path */
	int			 ok;
	time_t			 start, end;	/* of the ticket, when ok */
	time_t			 next;		/* renew or try again then */
	char			 err[400];	/* when not ok */
	int			 seen;
};

static struct ticket	*tickets_v;
static size_t		 tickets_n;
static char		*tickets_dir;
static struct event	*tickets_ev;

static void
tickets_get(struct ticket *t)
{
	char err[300];
	time_t now = time(NULL);

	if (krb_get_tickets(t->kt, t->principal, t->path, &t->start, &t->end,
	    err, sizeof(err)) == 0) {
		if (!t->ok)
			log_info("credentials %s: Kerberos ticket from %s, valid "
			    "for %lld s", t->name, t->keytab,
			    (long long)(t->end - now));
		t->ok = 1;
		t->err[0] = '\0';
		/* Renew when three quarters of its life are gone. */
		t->next = t->start + (t->end - t->start) * 3 / 4;
		if (t->next < now + TICKETS_CHECK_S)
			t->next = now + TICKETS_CHECK_S;
		return;
	}
	snprintf(t->err, sizeof(t->err), "Kerberos: cannot get a ticket for "
	    "%s with the keytab %s: %s", t->principal ? t->principal :
	    "its first principal", t->keytab, err);
	log_warnx("credentials %s: %s (trying again in %d s)", t->name,
	    t->err, TICKETS_RETRY_S);
	/* A ticket still valid keeps serving until it expires. */
	if (t->ok && t->end <= now + TICKETS_CHECK_S)
		t->ok = 0;
	else if (!t->ok)
		(void)unlink(t->path);
	t->next = now + TICKETS_RETRY_S;
}

static void
tickets_tick(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);
	size_t i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < tickets_n; i++) {
		if (tickets_v[i].ok && tickets_v[i].end <= now)
			tickets_v[i].ok = 0;	/* expired: renew failed */
		if (now >= tickets_v[i].next)
			tickets_get(&tickets_v[i]);
	}
}

/* Keep the ticket caches in dir, timers on base. */
void
tickets_init(struct event_base *base, const char *dir)
{
	struct timeval tv = { TICKETS_CHECK_S, 0 };

	tickets_dir = xstrdup(dir);
	if ((tickets_ev = event_new(base, -1, EV_PERSIST, tickets_tick,
	    NULL)) == NULL)
		fatalx("event_new");
	event_add(tickets_ev, &tv);
}

static void
tickets_clear(struct ticket *t, int remove)
{
	if (remove)
		(void)unlink(t->path);
	krb_keytab_free(t->kt);
	free(t->name);
	free(t->keytab);
	free(t->principal);
	free(t->path);
	free(t->ccname);
}

static int
tickets_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Match the caches to the keytab credentials of c. */
void
tickets_load(const struct conf *c)
{
	struct ticket *v = NULL, *o, *t;
	size_t i, j, n = 0;

	for (i = 0; i < tickets_n; i++)
		tickets_v[i].seen = 0;
	for (i = 0; i < c->ncreds; i++) {
		const struct conf_credentials *cr = &c->creds[i];

		if (cr->kt == NULL || cr->kerberos == CONF_KRB_NO)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		t = &v[n++];
		/* The same keys for the same principal: keep the tickets. */
		for (j = 0, o = NULL; j < tickets_n && o == NULL; j++)
			if (strcmp(tickets_v[j].name, cr->name) == 0 &&
			    tickets_v[j].kt == cr->kt &&
			    tickets_streq(tickets_v[j].principal,
			    cr->principal))
				o = &tickets_v[j];
		if (o != NULL) {
			*t = *o;
			o->seen = 1;
			continue;
		}
		memset(t, 0, sizeof(*t));
		t->name = xstrdup(cr->name);
		t->kt = krb_keytab_ref(cr->kt);
		t->keytab = xstrdup(cr->keytab);
		t->principal = xstrdup_null(cr->principal);
		t->path = xasprintf("%s/krb5cc-%s", tickets_dir, cr->name);
		t->ccname = xasprintf("FILE:%s", t->path);
		tickets_get(t);
	}
	for (i = 0; i < tickets_n; i++) {
		if (tickets_v[i].seen)
			continue;
		/* Gone, or replaced by one of the same name (same path). */
		for (j = 0; j < n; j++)
			if (strcmp(v[j].name, tickets_v[i].name) == 0)
				break;
		tickets_clear(&tickets_v[i], j == n);
	}
	free(tickets_v);
	tickets_v = v;
	tickets_n = n;
}

/* Return the ticket cache name for the credentials called name. */
const char *
tickets_ccache(const char *name, const char **err)
{
	size_t i;

	*err = NULL;
	for (i = 0; i < tickets_n; i++) {
		if (strcmp(tickets_v[i].name, name) != 0)
			continue;
		if (tickets_v[i].ok)
			return tickets_v[i].ccname;
		*err = tickets_v[i].err;
		return NULL;
	}
	return NULL;
}

/* Remove the caches and stop the timer. */
void
tickets_free(void)
{
	size_t i;

	for (i = 0; i < tickets_n; i++)
		tickets_clear(&tickets_v[i], 1);
	free(tickets_v);
	tickets_v = NULL;
	tickets_n = 0;
	if (tickets_ev != NULL)
		event_free(tickets_ev);
	tickets_ev = NULL;
	free(tickets_dir);
	tickets_dir = NULL;
}
