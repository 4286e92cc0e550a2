/* fmt: table, CSV and JSON output of rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "json.h"
#include "xmalloc.h"

enum fmt_cell_type { FMT_NULL, FMT_STR, FMT_NUM };

struct fmt_cell {
	enum fmt_cell_type type;
	char		*s;		/* text, or the number's digits */
};

struct fmt {
	enum fmt_kind	 kind;
	FILE		*out;
	size_t		 ncols;
	char		**names;
	int		*intable;
	struct fmt_cell	*row;		/* current row */
	size_t		 ncell;
	struct fmt_cell	**rows;		/* table: buffered rows */
	size_t		 nrows;
	size_t		 nout;		/* rows written (JSON) */
};

/* Parse "table", "csv" or "json"; returns 0, or -1 if unknown. */
int
fmt_parse(const char *name, enum fmt_kind *k)
{
	if (strcmp(name, "table") == 0)
		*k = FMT_TABLE;
	else if (strcmp(name, "csv") == 0)
		*k = FMT_CSV;
	else if (strcmp(name, "json") == 0)
		*k = FMT_JSON;
	else
		return -1;
	return 0;
}

/* Write s as a table cell or CSV field, control characters as \xNN. */
static char *
fmt_escape_ctrl(const char *s)
{
	size_t i, o = 0, n = strlen(s);
	char *d = xmalloc(n * 4 + 1);

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7F)
			o += (size_t)sprintf(d + o, "\\x%02x", c);
		else
			d[o++] = (char)c;
	}
	d[o] = '\0';
	return d;
}

/* Width of a UTF-8 string in characters (continuation bytes not counted). */
static size_t
fmt_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

static void
fmt_json_string(FILE *out, const char *s)
{
	char *q = json_quote(s);

	fputs(q, out);
	free(q);
}

static void
fmt_csv_field(FILE *out, const char *s)
{
	char *e = fmt_escape_ctrl(s);
	const char *p;

	if (strpbrk(e, ",\"") == NULL && e[0] != ' ') {
		fputs(e, out);
		free(e);
		return;
	}
	fputc('"', out);
	for (p = e; *p != '\0'; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	fputc('"', out);
	free(e);
}

/* Start output to out with ncols columns named names. */
struct fmt *
fmt_new(enum fmt_kind k, FILE *out, size_t ncols, const char *const *names,
    const int *intable)
{
	struct fmt *f = xcalloc(1, sizeof(*f));
	size_t i;

	f->kind = k;
	f->out = out;
	f->ncols = ncols;
	f->names = xcalloc(ncols, sizeof(*f->names));
	f->intable = xcalloc(ncols, sizeof(*f->intable));
	for (i = 0; i < ncols; i++) {
		f->names[i] = xstrdup(names[i]);
		f->intable[i] = intable ? intable[i] : 1;
	}
	f->row = xcalloc(ncols, sizeof(*f->row));
	if (k == FMT_CSV) {
		for (i = 0; i < ncols; i++) {
			if (i > 0)
				fputc(',', out);
			fmt_csv_field(out, names[i]);
		}
		fputs("\r\n", out);
	} else if (k == FMT_JSON)
		fputc('[', out);
	return f;
}

static void
fmt_cell(struct fmt *f, enum fmt_cell_type t, char *s)
{
	if (f->ncell >= f->ncols) {
		free(s);
		return;
	}
	f->row[f->ncell].type = t;
	f->row[f->ncell].s = s;
	f->ncell++;
}

/* Add a text cell to the current row; NULL is a null cell. */
void
fmt_text(struct fmt *f, const char *s)
{
	fmt_cell(f, s ? FMT_STR : FMT_NULL, s ? xstrdup(s) : NULL);
}

/* Add an integer cell. */
void
fmt_int(struct fmt *f, long long v)
{
	fmt_cell(f, FMT_NUM, xasprintf("%lld", v));
}

/* Add a floating-point cell. */
void
fmt_real(struct fmt *f, double v)
{
	fmt_cell(f, FMT_NUM, xasprintf("%.17g", v));
}

static void
fmt_row_free(struct fmt_cell *row, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(row[i].s);
	free(row);
}

/* End the current row (missing cells are null). */
void
fmt_endrow(struct fmt *f)
{
	size_t i;

	switch (f->kind) {
	case FMT_TABLE:
		f->rows = xreallocarray(f->rows, f->nrows + 1,
		    sizeof(*f->rows));
		f->rows[f->nrows++] = f->row;
		f->row = xcalloc(f->ncols, sizeof(*f->row));
		f->ncell = 0;
		return;
	case FMT_CSV:
		for (i = 0; i < f->ncols; i++) {
			if (i > 0)
				fputc(',', f->out);
			if (f->row[i].type != FMT_NULL)
				fmt_csv_field(f->out, f->row[i].s);
		}
		fputs("\r\n", f->out);
		break;
	case FMT_JSON:
		fputs(f->nout++ ? ",\n {" : "\n {", f->out);
		for (i = 0; i < f->ncols; i++) {
			if (i > 0)
				fputs(", ", f->out);
			fmt_json_string(f->out, f->names[i]);
			fputs(": ", f->out);
			if (f->row[i].type == FMT_NULL)
				fputs("null", f->out);
			else if (f->row[i].type == FMT_NUM)
				fputs(f->row[i].s, f->out);
			else
				fmt_json_string(f->out, f->row[i].s);
		}
		fputc('}', f->out);
		break;
	}
	for (i = 0; i < f->ncols; i++) {
		free(f->row[i].s);
		f->row[i].s = NULL;
		f->row[i].type = FMT_NULL;
	}
	f->ncell = 0;
}

/* Print the buffered table with columns padded to their widest cell. */
static void
fmt_table_flush(struct fmt *f)
{
	size_t *w = xcalloc(f->ncols, sizeof(*w));
	size_t i, j, last = 0;
	char ***cells = xcalloc(f->nrows, sizeof(*cells));

	for (j = 0; j < f->ncols; j++) {
		if (!f->intable[j])
			continue;
		w[j] = fmt_width(f->names[j]);
	}
	for (i = 0; i < f->nrows; i++) {
		cells[i] = xcalloc(f->ncols, sizeof(**cells));
		for (j = 0; j < f->ncols; j++) {
			const char *s = f->rows[i][j].type == FMT_NULL ? "" :
			    f->rows[i][j].s;

			cells[i][j] = fmt_escape_ctrl(s);
			if (f->intable[j] && fmt_width(cells[i][j]) > w[j])
				w[j] = fmt_width(cells[i][j]);
		}
	}
	for (i = 0; i <= f->nrows; i++) {
		/* Pad up to the last non-empty cell: no trailing blanks. */
		last = 0;
		for (j = 0; j < f->ncols; j++)
			if (f->intable[j] && (i == 0 || cells[i - 1][j][0]))
				last = j;
		for (j = 0; j <= last; j++) {
			char *up = NULL;
			const char *s;
			size_t k;

			if (!f->intable[j])
				continue;
			if (i == 0) {
				up = xstrdup(f->names[j]);
				for (k = 0; up[k] != '\0'; k++)
					if (up[k] >= 'a' && up[k] <= 'z')
						up[k] = (char)(up[k] - 32);
				s = up;
			} else
				s = cells[i - 1][j];
			fputs(s, f->out);
			if (j != last)
				for (k = fmt_width(s); k < w[j] + 2; k++)
					fputc(' ', f->out);
			free(up);
		}
		fputc('\n', f->out);
	}
	for (i = 0; i < f->nrows; i++) {
		for (j = 0; j < f->ncols; j++)
			free(cells[i][j]);
		free(cells[i]);
	}
	free(cells);
	free(w);
}

/* Finish the output (print a buffered table, close JSON) and free f. */
void
fmt_finish(struct fmt *f)
{
	size_t i;

	if (f->ncell > 0)
		fmt_endrow(f);
	if (f->kind == FMT_TABLE)
		fmt_table_flush(f);
	else if (f->kind == FMT_JSON)
		fputs(f->nout ? "\n]\n" : "]\n", f->out);
	fflush(f->out);
	for (i = 0; i < f->nrows; i++)
		fmt_row_free(f->rows[i], f->ncols);
	free(f->rows);
	fmt_row_free(f->row, f->ncols);
	for (i = 0; i < f->ncols; i++)
		free(f->names[i]);
	free(f->names);
	free(f->intable);
	free(f);
}
