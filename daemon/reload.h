/*
 * reload: the running configuration, replaced as a whole or not at all.
 * reload_check() loads a configuration and checks all that the daemon
 * needs of it: the file, the auth files, the rule queries against the
 * schema.  reload_config() does that, then opens what changed (a new
 * database and its lock, a new syslog destination), and only when all of
 * it succeeded swaps it in: the scheduler gets the targets, the pool its
 * sizes, the recorder the rules (and the database), alert the syslog
 * destination.  A reload that fails at any step changes nothing.
 */
#ifndef MAILDAT_RELOAD_H
#define MAILDAT_RELOAD_H

#include <stddef.h>
#include <time.h>

struct conf;
struct conf_errors;
struct recorder_policy;
struct rules;

/*
 * Load the configuration at path and check it (old: the one in force, for
 * a reload).  Returns 0 with *c and *rs (the caller's), or -1 with every
 * problem in errs, sorted by line.  notes, when not NULL, gets the warnings
 * that do not stop a start (locations named twice).
 */
int	 reload_check(const char *path, const struct conf *old,
	    struct conf **c, struct rules **rs, struct conf_errors *errs,
	    struct conf_errors *notes);

/* Keep c (taken), read from path, as the configuration in force; lockfd is its database's store_lock(). */
void	 reload_init(const char *path, struct conf *c, int lockfd);

/* Return the configuration in force. */
const struct conf *reload_conf(void);

/* Return the path the configuration is read from. */
const char *reload_path(void);

/* Return when the configuration in force was loaded (wall clock). */
time_t	 reload_loaded(void);

/*
 * Reload: check the file again and, when everything checks, swap.  Returns
 * 0 with a summary in msg, or -1 with the problems in msg (the old
 * configuration stays in force).  Each problem is also logged.
 */
int	 reload_config(char *msg, size_t msglen);

/* Fill in the recorder's policy from the configuration in force. */
void	 reload_recorder_policy(struct recorder_policy *pol);

/*
 * Open the database of the configuration in force anew (its file was
 * deleted or replaced under the daemon) and hand it to the recorder.
 * Returns 0, or -1 with err (the recorder keeps holding results).
 */
int	 reload_reopen(char *err, size_t errlen);

/* Free the configuration in force and release its database lock. */
void	 reload_free(void);

#endif
