/*
 * views.c - what `certmint view` and `certmint status` read: AD CS's views
 * of the request table (queue, log, logfail, revoked, issued, expired,
 * all) with their filters, and the counts of the status.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const char *const view_names[VIEW__MAX] = {
	[VIEW_QUEUE] = "queue",
	[VIEW_LOG] = "log",
	[VIEW_LOGFAIL] = "logfail",
	[VIEW_REVOKED] = "revoked",
	[VIEW_ISSUED] = "issued",
	[VIEW_ALL] = "all",
	[VIEW_EXPIRED] = "expired",
};

const char *
db_view_name(enum db_view v)
{
	return (unsigned)v < VIEW__MAX ? view_names[v] : "?";
}

enum db_view
db_view_from_name(const char *name)
{
	int	 i;

	for (i = 0; i < VIEW__MAX; i++)
		if (str_ieq(name, view_names[i]))
			return (enum db_view)i;
	return VIEW__MAX;
}

int
store_stats(struct store *st, struct db_stats *out)
{
	sqlite3_stmt	*s;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(st->db, "SELECT disposition, COUNT(*) FROM "
	    "requests GROUP BY disposition", -1, &s, NULL) != SQLITE_OK)
		return sql_fail(st, "stats");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t	 n = sqlite3_column_int64(s, 1);

		switch (sqlite3_column_int(s, 0)) {
		case CM_DISP_PENDING:
			out->pending += n;
			break;
		case CM_DISP_ISSUED:
			out->issued += n;
			break;
		case CM_DISP_REVOKED:
			out->revoked += n;
			break;
		case CM_DISP_DENIED:
			out->denied += n;
			break;
		case CM_DISP_ERROR:
			out->failed += n;
			break;
		}
		out->total += n;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_fail(st, "stats");
	if (query_int(st, "SELECT COUNT(*) FROM crls", &out->crls) == -1 ||
	    query_int(st, "SELECT COALESCE(MAX(seq), 0) FROM events",
	    &out->last_event_seq) == -1)
		return sql_fail(st, "stats");
	return 0;
}

/* The WHERE clause of a view. */
static const char *
view_where(enum db_view v)
{
	switch (v) {
	case VIEW_QUEUE:
		return "r.disposition = 9";
	case VIEW_LOG:
		return "r.disposition IN (20, 21, 30, 31)";
	case VIEW_LOGFAIL:
		return "r.disposition IN (30, 31)";
	case VIEW_REVOKED:
		return "r.disposition = 21";
	case VIEW_ISSUED:
		return "r.disposition = 20 AND c.not_after >= :now";
	case VIEW_EXPIRED:
		return "r.disposition = 20 AND c.not_after < :now";
	default:
		return "1";
	}
}

/* Rows of a view read per statement: see store_view. */
#define VIEW_PAGE	256

struct view_row {
	struct db_request r;
	struct db_cert	 c;
	int		 has_cert;
};

/*
 * Call cb for each row of a view, by ascending id. The rows are read
 * VIEW_PAGE at a time and cb is called only once the page's statement is
 * reset: a caller that blocks in cb (`certmint view | less`) then holds no
 * snapshot, which would keep every frame in the WAL (docs/design.md,
 * Storage). Each page is a snapshot of its own; a row changed meanwhile
 * shows as it is when its page is read. Returns 0, cb's non-zero result,
 * or a CM_E_* error.
 */
int
store_view(struct store *st, const struct db_filter *f,
    int (*cb)(void *, const struct db_request *, const struct db_cert *),
    void *arg)
{
	struct buf	 sql = { 0 };
	sqlite3_stmt	*s = NULL;
	struct view_row	*rows;
	int64_t		 after = INT64_MIN, left = f->limit > 0 ? f->limit : -1;
	int		 rc, ret = 0, n, i, lim;

	if (buf_printf(&sql, "SELECT r.id, r.raw_request, r.request_type, "
	    "r.request_flags, r.disposition, r.disposition_message, "
	    "r.status_code, r.requester_name, r.caller_name, "
	    "r.submitted_when, r.resolved_when, r.revoked_when, "
	    "r.revoked_effective_when, r.revoked_reason, r.unrevoked_when, "
	    "r.request_dn, r.request_raw_name, r.profile, r.was_pending, "
	    "c.request_id, c.serial, c.raw, c.not_before, c.not_after, "
	    "c.subject_dn, c.raw_name, c.common_name, c.pk_alg, c.pk_len, "
	    "c.raw_pk, c.raw_pk_params, c.hash, c.ski, c.ca_idx "
	    "FROM requests r LEFT JOIN certs c ON c.request_id = r.id "
	    "WHERE r.id > :after AND %s%s%s%s%s%s%s%s%s%s ORDER BY r.id "
	    "LIMIT :lim", view_where(f->view),
	    f->min_id ? " AND r.id >= :min" : "",
	    f->max_id ? " AND r.id <= :max" : "",
	    f->requester ? " AND r.requester_name = :req" : "",
	    f->common_name ? " AND (instr(c.common_name, :cn) OR "
	    "instr(r.request_dn, :cn))" : "",
	    /* A prefix, by range: hex sorts below 'g'. */
	    f->serial ? " AND c.serial >= :serial AND "
	    "c.serial < :serial || 'g'" : "",
	    f->profile ? " AND r.profile = :profile COLLATE NOCASE" : "",
	    f->expiring ? " AND r.disposition = 20 AND c.not_after >= :now "
	    "AND c.not_after < :now + :expiring" : "",
	    f->since ? " AND r.submitted_when >= :since" : "",
	    f->until ? " AND r.submitted_when < :until" : "") == -1) {
		buf_free(&sql);
		return CM_E_NOMEM;
	}
	rc = sqlite3_prepare_v2(st->db, (char *)sql.data, -1, &s, NULL);
	buf_free(&sql);
	if (rc != SQLITE_OK)
		return sql_fail(st, "view");
	if ((rows = calloc(VIEW_PAGE, sizeof(*rows))) == NULL) {
		sqlite3_finalize(s);
		return CM_E_NOMEM;
	}
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":min"),
	    f->min_id);
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":max"),
	    f->max_id);
	bind_text(s, sqlite3_bind_parameter_index(s, ":req"), f->requester);
	bind_text(s, sqlite3_bind_parameter_index(s, ":cn"), f->common_name);
	bind_text(s, sqlite3_bind_parameter_index(s, ":serial"), f->serial);
	bind_text(s, sqlite3_bind_parameter_index(s, ":profile"), f->profile);
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":now"),
	    f->now ? f->now : time_now());
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":expiring"),
	    f->expiring);
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":since"),
	    f->since);
	sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":until"),
	    f->until);
	while (ret == 0 && left != 0) {
		lim = left < 0 || left > VIEW_PAGE ? VIEW_PAGE : (int)left;
		sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s,
		    ":after"), after);
		sqlite3_bind_int(s, sqlite3_bind_parameter_index(s, ":lim"),
		    lim);
		n = 0;
		while (n < lim && (rc = sqlite3_step(s)) == SQLITE_ROW) {
			rows[n].has_cert = sqlite3_column_type(s, 19) !=
			    SQLITE_NULL;
			if ((ret = row_to_request(s, &rows[n].r)) != 0)
				break;
			if (rows[n].has_cert &&
			    (ret = row_to_cert(s, 19, &rows[n].c)) != 0) {
				db_request_free(&rows[n].r);
				break;
			}
			n++;
		}
		/* Ends the read transaction before any callback. */
		sqlite3_reset(s);
		if (ret == 0 && n < lim && rc != SQLITE_DONE)
			ret = sql_fail(st, "view");
		for (i = 0; i < n; i++) {
			if (ret == 0)
				ret = cb(arg, &rows[i].r, rows[i].has_cert ?
				    &rows[i].c : NULL);
			after = rows[i].r.id;
			db_request_free(&rows[i].r);
			if (rows[i].has_cert)
				db_cert_free(&rows[i].c);
		}
		if (n < lim)
			break;
		if (left > 0)
			left -= n;
	}
	free(rows);
	sqlite3_finalize(s);
	return ret;
}
