/*
 * krb: keytabs in memory and tickets from them, with MIT krb5.
 *
 * A keytab is opened with safefile_open() and checked like an auth file;
 * krb5 then reads it through /proc/self/fd/N, the file already opened (a
 * name swapped meanwhile changes nothing), and its entries are copied into
 * a MEMORY: keytab, which lives as long as this process holds it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "krb.h"
#include "safefile.h"
#include "xmalloc.h"

struct krb_keytab {
	krb5_context	 ctx;
	krb5_keytab	 kt;		/* MEMORY: */
	char		*path;		/* for messages */
	int		 refs;
};

/* Put krb5's text for code into err after prefix. */
static void
krb_error(krb5_context ctx, krb5_error_code code, char *err, size_t errlen,
    const char *prefix)
{
	const char *m = krb5_get_error_message(ctx, code);

	errbuf_set(err, errlen, "%s%s", prefix, m != NULL ? m : "error");
	krb5_free_error_message(ctx, m);
}

/* Read the keytab at path into memory. */
int
krb_keytab_load(const char *path, struct krb_keytab **out, char *err,
    size_t errlen)
{
	static unsigned long seq;
	struct krb_keytab *k;
	struct stat sb;
	krb5_keytab src = NULL;
	krb5_kt_cursor cur;
	krb5_keytab_entry e;
	krb5_error_code code;
	char name[64], pre[512];
	int fd, n = 0, rc = -1;

	*out = NULL;
	if ((fd = safefile_open(path, O_RDONLY, 0, (uid_t)-1, err,
	    errlen)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((sb.st_mode & 07777 & ~0600) != 0) {
		errbuf_set(err, errlen, "%s: mode %04o is too open; a keytab "
		    "must be 0600 or 0400 (chmod 600 %s)", path,
		    (unsigned)(sb.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	k = xcalloc(1, sizeof(*k));
	k->path = xstrdup(path);
	k->refs = 1;
	if ((code = krb5_init_context(&k->ctx)) != 0) {
		errbuf_set(err, errlen, "%s: cannot set up Kerberos (error "
		    "%d)", path, (int)code);
		k->ctx = NULL;
		goto out;
	}
	snprintf(pre, sizeof(pre), "%s: ", path);
	snprintf(name, sizeof(name), "FILE:/proc/self/fd/%d", fd);
	if ((code = krb5_kt_resolve(k->ctx, name, &src)) != 0) {
		krb_error(k->ctx, code, err, errlen, pre);
		src = NULL;
		goto out;
	}
	snprintf(name, sizeof(name), "MEMORY:maildat-%ld-%lu",
	    (long)getpid(), ++seq);
	if ((code = krb5_kt_resolve(k->ctx, name, &k->kt)) != 0) {
		krb_error(k->ctx, code, err, errlen, pre);
		k->kt = NULL;
		goto out;
	}
	if ((code = krb5_kt_start_seq_get(k->ctx, src, &cur)) != 0) {
		krb_error(k->ctx, code, err, errlen, pre);
		goto out;
	}
	while ((code = krb5_kt_next_entry(k->ctx, src, &e, &cur)) == 0) {
		code = krb5_kt_add_entry(k->ctx, k->kt, &e);
		krb5_free_keytab_entry_contents(k->ctx, &e);
		if (code != 0)
			break;
		n++;
	}
	krb5_kt_end_seq_get(k->ctx, src, &cur);
	if (code != 0 && code != KRB5_KT_END) {
		krb_error(k->ctx, code, err, errlen, pre);
		goto out;
	}
	if (n == 0) {
		errbuf_set(err, errlen, "%s: the keytab holds no keys", path);
		goto out;
	}
	rc = 0;
out:
	if (src != NULL)
		krb5_kt_close(k->ctx, src);
	close(fd);
	if (rc == -1)
		krb_keytab_free(k);
	else
		*out = k;
	return rc;
}

/* Take one more reference to kt; returns kt. */
struct krb_keytab *
krb_keytab_ref(struct krb_keytab *kt)
{
	if (kt != NULL)
		kt->refs++;
	return kt;
}

/* Drop a reference to kt, destroying the keys with the last. */
void
krb_keytab_free(struct krb_keytab *kt)
{
	if (kt == NULL || --kt->refs > 0)
		return;
	/* Closing the last handle of a MEMORY: keytab frees its keys. */
	if (kt->kt != NULL)
		krb5_kt_close(kt->ctx, kt->kt);
	if (kt->ctx != NULL)
		krb5_free_context(kt->ctx);
	free(kt->path);
	free(kt);
}

/* The principal of kt's first entry, parsed. */
static krb5_error_code
krb_first_principal(struct krb_keytab *kt, krb5_principal *p)
{
	krb5_kt_cursor cur;
	krb5_keytab_entry e;
	krb5_error_code code;

	if ((code = krb5_kt_start_seq_get(kt->ctx, kt->kt, &cur)) != 0)
		return code;
	code = krb5_kt_next_entry(kt->ctx, kt->kt, &e, &cur);
	krb5_kt_end_seq_get(kt->ctx, kt->kt, &cur);
	if (code != 0)
		return code;
	code = krb5_copy_principal(kt->ctx, e.principal, p);
	krb5_free_keytab_entry_contents(kt->ctx, &e);
	return code;
}

/* Return the principal of kt's first entry (malloc'd), or NULL with err. */
char *
krb_keytab_principal(struct krb_keytab *kt, char *err, size_t errlen)
{
	krb5_principal p;
	krb5_error_code code;
	char *s, *r;

	if ((code = krb_first_principal(kt, &p)) != 0) {
		krb_error(kt->ctx, code, err, errlen, "");
		return NULL;
	}
	code = krb5_unparse_name(kt->ctx, p, &s);
	krb5_free_principal(kt->ctx, p);
	if (code != 0) {
		krb_error(kt->ctx, code, err, errlen, "");
		return NULL;
	}
	r = xstrdup(s);
	krb5_free_unparsed_name(kt->ctx, s);
	return r;
}

/* Get a ticket-granting ticket with kt's keys into the cache at path. */
int
krb_get_tickets(struct krb_keytab *kt, const char *principal,
    const char *path, time_t *start, time_t *end, char *err, size_t errlen)
{
	krb5_context ctx = kt->ctx;
	krb5_principal p = NULL;
	krb5_get_init_creds_opt *opt = NULL;
	krb5_creds creds;
	krb5_ccache cc = NULL;
	krb5_error_code code;
	char *tmp, *name;
	int rc = -1, have_creds = 0;

	memset(&creds, 0, sizeof(creds));
	tmp = xasprintf("%s.new", path);
	name = xasprintf("FILE:%s", tmp);
	if (principal != NULL)
		code = krb5_parse_name(ctx, principal, &p);
	else
		code = krb_first_principal(kt, &p);
	if (code != 0) {
		p = NULL;
		krb_error(ctx, code, err, errlen, "principal: ");
		goto out;
	}
	if ((code = krb5_get_init_creds_opt_alloc(ctx, &opt)) != 0) {
		opt = NULL;
		krb_error(ctx, code, err, errlen, "");
		goto out;
	}
	/* The workers use the ticket here and forward it nowhere. */
	krb5_get_init_creds_opt_set_forwardable(opt, 0);
	if ((code = krb5_get_init_creds_keytab(ctx, &creds, p, kt->kt, 0,
	    NULL, opt)) != 0) {
		krb_error(ctx, code, err, errlen, "");
		goto out;
	}
	have_creds = 1;
	(void)unlink(tmp);
	if ((code = krb5_cc_resolve(ctx, name, &cc)) != 0 ||
	    (code = krb5_cc_initialize(ctx, cc, p)) != 0 ||
	    (code = krb5_cc_store_cred(ctx, cc, &creds)) != 0) {
		krb_error(ctx, code, err, errlen, "ticket cache: ");
		goto out;
	}
	krb5_cc_close(ctx, cc);
	cc = NULL;
	if (rename(tmp, path) == -1) {
		errbuf_set(err, errlen, "ticket cache %s: %s", path,
		    strerror(errno));
		goto out;
	}
	*start = creds.times.starttime != 0 ? creds.times.starttime :
	    creds.times.authtime;
	*end = creds.times.endtime;
	rc = 0;
out:
	if (cc != NULL)
		krb5_cc_close(ctx, cc);
	if (rc == -1)
		(void)unlink(tmp);
	if (have_creds)
		krb5_free_cred_contents(ctx, &creds);
	if (opt != NULL)
		krb5_get_init_creds_opt_free(ctx, opt);
	if (p != NULL)
		krb5_free_principal(ctx, p);
	free(tmp);
	free(name);
	return rc;
}

/* Return the principal of the ticket cache called name, or NULL with err. */
char *
krb_ccache_principal(const char *name, char *err, size_t errlen)
{
	krb5_context ctx;
	krb5_ccache cc = NULL;
	krb5_principal p = NULL;
	krb5_error_code code;
	char *s = NULL, *r = NULL;

	if ((code = krb5_init_context(&ctx)) != 0) {
		errbuf_set(err, errlen, "cannot set up Kerberos (error %d)",
		    (int)code);
		return NULL;
	}
	if ((code = (name != NULL ? krb5_cc_resolve(ctx, name, &cc) :
	    krb5_cc_default(ctx, &cc))) != 0 ||
	    (code = krb5_cc_get_principal(ctx, cc, &p)) != 0 ||
	    (code = krb5_unparse_name(ctx, p, &s)) != 0)
		krb_error(ctx, code, err, errlen, "ticket cache: ");
	else
		r = xstrdup(s);
	if (s != NULL)
		krb5_free_unparsed_name(ctx, s);
	if (p != NULL)
		krb5_free_principal(ctx, p);
	if (cc != NULL)
		krb5_cc_close(ctx, cc);
	krb5_free_context(ctx);
	return r;
}
