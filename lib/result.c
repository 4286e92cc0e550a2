/* result: crawl outcomes and results, and the lists they come in. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "result.h"
#include "xmalloc.h"

static const char *const result_outcome_names[OUTCOME_COUNT] = {
	"ok", "not-postoffice", "malformed", "auth-failed", "access-denied",
	"unreachable", "timeout", "error"
};

/* Return the contract name of an outcome ("ok", "not-postoffice", ...). */
const char *
result_outcome_name(enum outcome o)
{
	if ((unsigned)o >= OUTCOME_COUNT)
		return "error";
	return result_outcome_names[o];
}

/* Set r's location to loc (copied) and derive its UNC form and key. */
void
result_locate(struct result *r, const struct location *loc)
{
	location_free(&r->loc);
	free(r->unc);
	free(r->key);
	location_copy(&r->loc, loc);
	r->unc = location_unc(&r->loc);
	r->key = location_key(&r->loc);
}

/* Append a result for loc to rs, outcome ok so far, and return it. */
struct result *
results_add(struct results *rs, const struct location *loc,
    int64_t started_us)
{
	struct result *r;

	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
	r = &rs->v[rs->n++];
	memset(r, 0, sizeof(*r));
	result_locate(r, loc);
	r->outcome = OUTCOME_OK;
	r->started_us = started_us;
	return r;
}

/* Append a failed result for loc with outcome o and message msg. */
void
results_fail(struct results *rs, const struct location *loc, enum outcome o,
    const char *msg)
{
	int64_t now = clock_wall_us();
	struct result *r = results_add(rs, loc, now);

	r->outcome = o;
	r->error = xstrdup(msg);
	r->finished_us = now;
}

/* Rewrite the "(and N more)" tail of r->error after a note was dropped. */
static void
result_note_dropped(struct result *r)
{
	char *tail;

	r->notes_dropped++;
	if ((tail = strstr(r->error, " (and ")) != NULL &&
	    strcmp(tail + strcspn(tail, ")"), ")") == 0)
		*tail = '\0';
	tail = xasprintf("%s (and %u more)", r->error, r->notes_dropped);
	free(r->error);
	r->error = tail;
}

/* Add a note to r->error, separated by "; ", up to RESULT_ERROR_MAX. */
void
result_note(struct result *r, const char *fmt, ...)
{
	va_list ap;
	char *msg, *joined;

	if (r->notes_dropped > 0) {
		result_note_dropped(r);
		return;
	}
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (r->error == NULL)
		r->error = msg;
	else if (strlen(r->error) + strlen(msg) + 2 > RESULT_ERROR_MAX) {
		free(msg);
		result_note_dropped(r);
	} else {
		joined = xasprintf("%s; %s", r->error, msg);
		free(r->error);
		free(msg);
		r->error = joined;
	}
}

/* Record a failure: the first one decides the outcome. */
void
result_fail(struct result *r, enum outcome o, const char *msg)
{
	if (r->outcome == OUTCOME_OK)
		r->outcome = o;
	result_note(r, "%s", msg);
}

/* Move r to the end of rs; r is left empty. */
void
results_take(struct results *rs, struct result *r)
{
	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
	rs->v[rs->n++] = *r;
	memset(r, 0, sizeof(*r));
}

/* Return the index of the result in rs whose location has key, or -1. */
long
results_find(const struct results *rs, const char *key)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (rs->v[i].key != NULL && strcmp(rs->v[i].key, key) == 0)
			return (long)i;
	return -1;
}

/* Move every result of src to the end of dst; src is left empty. */
void
results_move(struct results *dst, struct results *src)
{
	if (src->n == 0)
		return;
	dst->v = xreallocarray(dst->v, dst->n + src->n, sizeof(*dst->v));
	memcpy(&dst->v[dst->n], src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	free(src->v);
	src->v = NULL;
	src->n = 0;
}

/* Write the address "NETWORK/POSTOFFICE" of r into out ("" if none). */
void
result_address(const struct result *r, char *out, size_t outlen)
{
	if (r->has_master)
		snprintf(out, outlen, "%s/%s", r->master.network,
		    r->master.postoffice);
	else if (outlen > 0)
		out[0] = '\0';
}

/* Release what r owns and zero it. */
void
result_free(struct result *r)
{
	location_free(&r->loc);
	free(r->unc);
	free(r->key);
	free(r->error);
	free(r->routes);
	memset(r, 0, sizeof(*r));
}

/* Release every result in rs and the array, leaving rs empty. */
void
results_free(struct results *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		result_free(&rs->v[i]);
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}
