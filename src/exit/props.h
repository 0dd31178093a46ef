/*
 * props.h - shared by props.c (the ICertServerExit callbacks) and
 * props_ca.c (the CA properties, context 0): the call's arena and the
 * typed setters. Not for use outside src/exit.
 */
#ifndef CM_EXIT_PROPS_H
#define CM_EXIT_PROPS_H

#include "exit_host.h"

/* Memory for the values of one call, freed by exit_call_reset. */
void	*arena_alloc(struct exit_call *, size_t);
char	*arena_strdup(struct exit_call *, const char *);
void	*arena_memdup(struct exit_call *, const void *, size_t);
/* Fill v if want is the property's type: CM_OK, CM_E_TYPE or EMPTY. */
int	 set_long(cm_value *, uint32_t want, int64_t);
int	 set_date(cm_value *, uint32_t want, int64_t);
int	 set_string(cm_value *, uint32_t want, const char *);
int	 set_binary(cm_value *, uint32_t want, const void *, size_t);
int	 in_list(const char *const *list, const char *name);
/* The event a call reads the state of (0: now), and its time. */
int64_t	 event_seq(const struct exit_call *);
int64_t	 event_time(const struct exit_call *);

/* props_ca.c */
int	 ca_property(struct exit_call *, const char *name, uint32_t type,
	    cm_value *out);
/* RawCACertificate[.idx] (idx < 0: the newest) of the event's time. */
int	 cacert_property(struct exit_call *, long idx, uint32_t type,
	    cm_value *out);

#endif /* CM_EXIT_PROPS_H */
