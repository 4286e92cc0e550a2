/* Unit tests of lib/topo.c: which postoffices the route graph joins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topo.h"

/* The path between members (NULL-ended), or NULL. */
static char *
path_of(struct topo *t, const char *const *members)
{
	size_t n = 0;
	char *p;

	while (members[n] != NULL)
		n++;
	if (topo_path(t, members, n, &p) == 0) {
		assert_null(p);
		return NULL;
	}
	assert_non_null(p);
	return p;
}

static void
check(struct topo *t, const char *const *members, const char *want)
{
	char *p = path_of(t, members);

	if (want == NULL)
		assert_null(p);
	else
		assert_string_equal(p, want);
	free(p);
}

static void
test_direct_and_common(void **state)
{
	struct topo *t = topo_new();
	const char *const ab[] = { "NET/A", "NET/B", NULL };
	const char *const ac[] = { "NET/A", "NET/C", NULL };
	const char *const cd[] = { "NET/C", "NET/D", NULL };

	(void)state;
	/* One routes to the other. */
	topo_edge(t, "NET/A", "NET/B");
	check(t, ab, "NET/A > NET/B");
	/* Both reach a common postoffice (the edge's direction is moot). */
	topo_edge(t, "NET/C", "NET/HUB");
	topo_edge(t, "NET/D", "NET/HUB");
	check(t, cd, "NET/C > NET/HUB > NET/D");
	/* Not joined. */
	check(t, ac, NULL);
	topo_free(t);
}

static void
test_longest_and_shortest(void **state)
{
	struct topo *t = topo_new();
	const char *const ae[] = { "N/A", "N/E", NULL };
	const char *const ea[] = { "N/E", "N/A", NULL };

	(void)state;
	topo_edge(t, "N/A", "N/B");
	topo_edge(t, "N/B", "N/C");
	topo_edge(t, "N/C", "N/D");
	topo_edge(t, "N/D", "N/E");
	check(t, ae, "N/A > N/B > N/C > N/D > N/E");
	/* From the member given first. */
	check(t, ea, "N/E > N/D > N/C > N/B > N/A");
	/* A short cut wins. */
	topo_edge(t, "N/A", "N/X");
	topo_edge(t, "N/X", "N/E");
	check(t, ae, "N/A > N/X > N/E");
	topo_free(t);
}

static void
test_names_and_members(void **state)
{
	struct topo *t = topo_new();
	const char *const upper[] = { "GR\xc3\x9cN/W\xc3\x84LDER", "GR\xc3\x9cN/B",
	    NULL };
	const char *const same[] = { "NET/A", "net/a", NULL };
	const char *const one[] = { "NET/A", NULL };
	const char *const three[] = { "X/1", "X/2", "NET/A", NULL };

	(void)state;
	/* Names compared as MS Mail does, in code page 850. */
	topo_edge(t, "gr\xc3\xbcn/w\xc3\xa4lder", "gr\xc3\xbcn/b");
	check(t, upper, "gr\xc3\xbcn/w\xc3\xa4lder > gr\xc3\xbcn/b");
	/* One address twice is not two postoffices. */
	topo_edge(t, "NET/A", "NET/Z");
	check(t, same, NULL);
	check(t, one, NULL);
	/* Members without routes are added, and joined to nothing. */
	check(t, three, NULL);
	assert_int_equal(topo_size(t), 6);
	/* Repeated edges and self routes change nothing. */
	topo_edge(t, "NET/A", "NET/Z");
	topo_edge(t, "NET/A", "NET/A");
	assert_int_equal(topo_size(t), 6);
	topo_free(t);
}

static void
test_big_graph(void **state)
{
	struct topo *t = topo_new();
	const char *members[3];
	char a[32], b[32], *p;
	long i;

	(void)state;
	/* 100,000 postoffices in a chain of hubs of ten. */
	for (i = 0; i < 100000; i++) {
		snprintf(a, sizeof(a), "N%ld/P%ld", i / 10, i);
		snprintf(b, sizeof(b), "HUB/H%ld", i / 10);
		topo_edge(t, a, b);
		if (i % 10 == 0 && i > 0) {
			snprintf(a, sizeof(a), "HUB/H%ld", i / 10 - 1);
			topo_edge(t, a, b);
		}
	}
	members[0] = "N0/P0";
	members[1] = "N9999/P99999";
	members[2] = NULL;
	assert_int_equal(topo_path(t, members, 2, &p), 1);
	assert_non_null(strstr(p, "N0/P0 > HUB/H0 > HUB/H1"));
	assert_non_null(strstr(p, "HUB/H9999 > N9999/P99999"));
	free(p);
	topo_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_and_common),
		cmocka_unit_test(test_longest_and_shortest),
		cmocka_unit_test(test_names_and_members),
		cmocka_unit_test(test_big_graph),
	};

	return cmocka_run_group_tests_name("topo", tests, NULL, NULL);
}
