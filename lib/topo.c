/* topo: route graph and the shortest path between postoffices. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "po.h"
#include "topo.h"
#include "xmalloc.h"

struct topo_node {
	char	*name;		/* as first given */
	char	*key;		/* po_name_upper(name) */
	size_t	*adj;		/* neighbours, repeats allowed */
	size_t	 nadj, capadj;
};

struct topo {
	struct topo_node *v;
	size_t		 n, cap;
	size_t		*slot;		/* hash of keys: node index + 1 */
	size_t		 nslot;		/* a power of two */
};

static uint32_t
topo_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Return a new, empty graph. */
struct topo *
topo_new(void)
{
	return xcalloc(1, sizeof(struct topo));
}

static void
topo_rehash(struct topo *t)
{
	size_t i, k, ns = t->nslot ? t->nslot * 2 : 256;

	free(t->slot);
	t->slot = xcalloc(ns, sizeof(*t->slot));
	t->nslot = ns;
	for (i = 0; i < t->n; i++) {
		for (k = topo_hash(t->v[i].key) & (ns - 1); t->slot[k] != 0;
		    k = (k + 1) & (ns - 1))
			;
		t->slot[k] = i + 1;
	}
}

/* Return the index of the node of key, or SIZE_MAX. */
static size_t
topo_find(const struct topo *t, const char *key)
{
	size_t k;

	if (t->nslot == 0)
		return SIZE_MAX;
	for (k = topo_hash(key) & (t->nslot - 1); t->slot[k] != 0;
	    k = (k + 1) & (t->nslot - 1))
		if (strcmp(t->v[t->slot[k] - 1].key, key) == 0)
			return t->slot[k] - 1;
	return SIZE_MAX;
}

/* Return the index of the node of name, adding it if need be. */
static size_t
topo_node(struct topo *t, const char *name)
{
	char *key = po_name_upper(name);
	size_t i = topo_find(t, key);

	if (i != SIZE_MAX) {
		free(key);
		return i;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	i = t->n++;
	memset(&t->v[i], 0, sizeof(t->v[i]));
	t->v[i].name = xstrdup(name);
	t->v[i].key = key;
	if (t->n * 2 > t->nslot)
		topo_rehash(t);
	else {
		size_t k;

		for (k = topo_hash(key) & (t->nslot - 1); t->slot[k] != 0;
		    k = (k + 1) & (t->nslot - 1))
			;
		t->slot[k] = i + 1;
	}
	return i;
}

static void
topo_adj(struct topo_node *nd, size_t to)
{
	if (nd->nadj == nd->capadj) {
		nd->capadj = nd->capadj ? nd->capadj * 2 : 4;
		nd->adj = xreallocarray(nd->adj, nd->capadj, sizeof(*nd->adj));
	}
	nd->adj[nd->nadj++] = to;
}

/* Add the route from address a to address b. */
void
topo_edge(struct topo *t, const char *a, const char *b)
{
	size_t i = topo_node(t, a), j = topo_node(t, b);

	if (i == j)
		return;
	topo_adj(&t->v[i], j);
	topo_adj(&t->v[j], i);
}

/* Append the names from node i back to its member (parent links) to s. */
static char *
topo_walk(const struct topo *t, const size_t *parent, size_t i, char *s,
    int reverse)
{
	char *out;
	size_t *chain = NULL, n = 0, cap = 0, k;

	for (;; i = parent[i]) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			chain = xreallocarray(chain, cap, sizeof(*chain));
		}
		chain[n++] = i;
		if (parent[i] == i)
			break;
	}
	for (k = 0; k < n; k++) {
		size_t at = reverse ? chain[n - 1 - k] : chain[k];

		out = xasprintf("%s%s%s", s ? s : "", s ? " > " : "",
		    t->v[at].name);
		free(s);
		s = out;
	}
	free(chain);
	return s;
}

/* Find the shortest path between two different addresses of members. */
int
topo_path(struct topo *t, const char *const *members, size_t n, char **path)
{
	size_t *origin, *parent, *queue, head = 0, tail = 0, i, j, u, w;
	int found = 0;

	*path = NULL;
	if (n < 2)
		return 0;
	/* Members without routes are nodes too, with no neighbours. */
	for (i = 0; i < n; i++)
		topo_node(t, members[i]);
	origin = xcalloc(t->n, sizeof(*origin));	/* member + 1; 0: none */
	parent = xcalloc(t->n, sizeof(*parent));
	queue = xcalloc(t->n, sizeof(*queue));
	for (i = 0; i < n; i++) {
		u = topo_node(t, members[i]);
		if (origin[u] != 0)
			continue;	/* the same address twice */
		origin[u] = i + 1;
		parent[u] = u;
		queue[tail++] = u;
	}
	while (head < tail && !found) {
		u = queue[head++];
		for (j = 0; j < t->v[u].nadj; j++) {
			w = t->v[u].adj[j];
			if (origin[w] == 0) {
				origin[w] = origin[u];
				parent[w] = u;
				queue[tail++] = w;
			} else if (origin[w] != origin[u]) {
				/* From the member given first to the other. */
				size_t a = origin[u] < origin[w] ? u : w;
				size_t b = a == u ? w : u;

				*path = topo_walk(t, parent, a, NULL, 1);
				*path = topo_walk(t, parent, b, *path, 0);
				found = 1;
				break;
			}
		}
	}
	free(origin);
	free(parent);
	free(queue);
	return found;
}

/* Return the number of addresses in t. */
size_t
topo_size(const struct topo *t)
{
	return t->n;
}

/* Free t; NULL is ignored. */
void
topo_free(struct topo *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].key);
		free(t->v[i].adj);
	}
	free(t->v);
	free(t->slot);
	free(t);
}
