/* targets: expand the targets of a configuration into locations. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "confval.h"
#include "targets.h"
#include "xmalloc.h"

/* The keys seen so far: an open-addressing set of indices into the array. */
struct targets_set {
	size_t		*slot;		/* index + 1; 0 is empty */
	size_t		 cap;		/* a power of two */
};

struct targets_out {
	struct target_location *v;
	size_t		 n, cap;
	struct targets_set seen;
	const struct conf *c;
	struct conf_errors *notes;
};

static uint32_t
targets_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Return the entry with key, or NULL; insert index i when absent. */
static struct target_location *
targets_seen(struct targets_out *o, const char *key, size_t i)
{
	struct targets_set *set = &o->seen;
	size_t j, k, ncap;

	if ((o->n + 1) * 2 > set->cap) {
		ncap = set->cap ? set->cap * 2 : 64;
		size_t *ns = xcalloc(ncap, sizeof(*ns));

		for (j = 0; j < set->cap; j++) {
			if (set->slot[j] == 0)
				continue;
			k = targets_hash(o->v[set->slot[j] - 1].key) &
			    (ncap - 1);
			while (ns[k] != 0)
				k = (k + 1) & (ncap - 1);
			ns[k] = set->slot[j];
		}
		free(set->slot);
		set->slot = ns;
		set->cap = ncap;
	}
	for (k = targets_hash(key) & (set->cap - 1); set->slot[k] != 0;
	    k = (k + 1) & (set->cap - 1))
		if (strcmp(o->v[set->slot[k] - 1].key, key) == 0)
			return &o->v[set->slot[k] - 1];
	set->slot[k] = i + 1;
	return NULL;
}

/* Add l (taken) of target t, unless an earlier entry is that location. */
static void
targets_add(struct targets_out *o, const struct conf_target *t,
    struct location *l, int line)
{
	struct target_location *e, *first;
	char *key = location_key(l), *unc;

	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->v = xreallocarray(o->v, o->cap, sizeof(*o->v));
	}
	e = &o->v[o->n];
	e->target = t->name;
	e->loc = *l;
	e->key = key;
	if ((first = targets_seen(o, key, o->n)) == NULL) {
		o->n++;
		return;
	}
	if (o->notes != NULL) {
		unc = location_unc(l);
		conf_errors_add(o->notes, "%s:%d: [target %s]: %s is %s; it is "
		    "crawled once, as a location of target %s", o->c->path,
		    line, t->name, unc,
		    strcmp(first->target, t->name) == 0 ? "listed twice" :
		    "also in another target", first->target);
		free(unc);
	}
	location_free(l);
	free(key);
}

/* Add the location of one hosts entry (a range gives many). */
static int
targets_host(struct targets_out *o, const struct conf_target *t,
    const char *entry, int line)
{
	struct confval_host h;
	struct location l;
	struct in_addr a4;
	char host[INET_ADDRSTRLEN];
	uint64_t a, first, last;

	if (confval_host(entry, &h, NULL, 0) == -1)
		return -1;
	if (!h.range) {
		location_set(&l, h.host, 0, t->discover ? "" : t->share, "");
		l.discover = t->discover;
		targets_add(o, t, &l, line);
		return 0;
	}
	first = h.net;
	last = (uint64_t)h.net + (UINT64_C(1) << (32 - h.prefix)) - 1;
	if (h.prefix < 31) {
		first++;
		last--;
	}
	for (a = first; a <= last; a++) {
		a4.s_addr = htonl((uint32_t)a);
		inet_ntop(AF_INET, &a4, host, sizeof(host));
		location_set(&l, host, 0, t->discover ? "" : t->share, "");
		l.discover = t->discover;
		targets_add(o, t, &l, line);
	}
	return 0;
}

/* Expand every target of c into *v, dropping repeated locations. */
int
targets_expand(const struct conf *c, struct target_location **v, size_t *n,
    struct conf_errors *notes)
{
	struct targets_out o;
	struct location l;
	size_t i, j;

	memset(&o, 0, sizeof(o));
	o.c = c;
	o.notes = notes;
	for (i = 0; i < c->ntargets; i++) {
		const struct conf_target *t = &c->targets[i];

		for (j = 0; j < t->nhosts; j++)
			if (targets_host(&o, t, t->hosts[j], t->host_lines[j]) ==
			    -1)
				goto fail;
		for (j = 0; j < t->nurls; j++) {
			if (location_parse(t->urls[j], LOCATION_NO_SHARE, &l,
			    NULL, 0) == -1)
				goto fail;
			/* With discover, a URL without a folder is the host. */
			if (t->discover && l.path[0] == '\0') {
				free(l.share);
				l.share = xstrdup("");
				l.discover = 1;
			}
			targets_add(&o, t, &l, t->url_lines[j]);
		}
	}
	free(o.seen.slot);
	*v = o.v;
	*n = o.n;
	return 0;
fail:
	free(o.seen.slot);
	targets_free(o.v, o.n);
	*v = NULL;
	*n = 0;
	return -1;
}

/* Free an array returned by targets_expand(). */
void
targets_free(struct target_location *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		location_free(&v[i].loc);
		free(v[i].key);
	}
	free(v);
}
