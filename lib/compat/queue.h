/*
 * compat/queue.h: the BSD <sys/queue.h> list macros.  glibc's header has
 * the lists but lacks the _SAFE iterators that the BSDs (and tmux's
 * compat/queue.h) provide; they are added here, so every module includes
 * this one header for its lists.
 */
#ifndef MAILDAT_COMPAT_QUEUE_H
#define MAILDAT_COMPAT_QUEUE_H

#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#ifndef LIST_FOREACH_SAFE
#define LIST_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = LIST_FIRST(head);					\
	    (var) != NULL && ((tvar) = LIST_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#endif
