/*
 * fmt: print rows as an aligned table, CSV (RFC 4180) or JSON (an array of
 * objects).  Text from the network is escaped in every format: control
 * characters never reach the terminal or a log raw.
 */
#ifndef MAILDAT_FMT_H
#define MAILDAT_FMT_H

#include <stddef.h>
#include <stdio.h>

enum fmt_kind {
	FMT_TABLE,
	FMT_CSV,
	FMT_JSON
};

struct fmt;

/* Parse "table", "csv" or "json"; returns 0, or -1 if unknown. */
int		 fmt_parse(const char *name, enum fmt_kind *k);

/*
 * Start output to out with ncols columns named names.  intable, when not
 * NULL, says which columns the table format shows (CSV and JSON show all).
 */
struct fmt	*fmt_new(enum fmt_kind k, FILE *out, size_t ncols,
		    const char *const *names, const int *intable);

/* Add a text cell to the current row; NULL is a null cell. */
void		 fmt_text(struct fmt *f, const char *s);

/* Add an integer cell. */
void		 fmt_int(struct fmt *f, long long v);

/* Add a floating-point cell. */
void		 fmt_real(struct fmt *f, double v);

/* End the current row (missing cells are null). */
void		 fmt_endrow(struct fmt *f);

/* Finish the output (print a buffered table, close JSON) and free f. */
void		 fmt_finish(struct fmt *f);

#endif
