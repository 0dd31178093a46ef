/*
 * Unit tests for src/store: opening (create, missing file, not a database,
 * another application's database, a newer schema, read-only), what SQLite
 * is set to, request/certificate/CRL/event rows read back as written,
 * transactions (rollback, conflicts, duplicate serials), the views and
 * their filters, revoked walks for base and delta CRLs, exit cursors and
 * dead letters, and that everything survives close and reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "certmint/exit.h"
#include "certmint/server.h"
#include "store/schema.h"
#include "store/store.h"

static char	 dir[256];
static char	 dbpath[300];

static int
setup(void **state)
{
	const char	*tmp = getenv("TMPDIR");

	(void)state;
	if (snprintf(dir, sizeof(dir), "%s/cm-store.XXXXXX",
	    tmp != NULL ? tmp : "/tmp") >= (int)sizeof(dir))
		return -1;	/* TMPDIR too long for the template */
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh database file for one test. */
static struct store *
fresh(const char *name)
{
	struct store	*st;
	char		 err[256];

	snprintf(dbpath, sizeof(dbpath), "%s/%s.db", dir, name);
	st = store_open(dbpath, STORE_CREATE, err, sizeof(err));
	if (st == NULL)
		fail_msg("store_open: %s", err);
	return st;
}

/* An integer PRAGMA or query result, read with plain SQLite. */
static int64_t
sql_int(const char *path, const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
sql_exec(const char *path, const char *sql)
{
	sqlite3	*db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_open(void **state)
{
	struct store	*st;
	char		 err[256], path[300];
	FILE		*f;

	(void)state;
	/* Missing without STORE_CREATE. */
	snprintf(path, sizeof(path), "%s/missing.db", dir);
	err[0] = '\0';
	assert_null(store_open(path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "missing.db"));
	assert_int_equal(access(path, F_OK), -1);

	st = fresh("open");
	assert_true(store_schema_version(st) >= 2);
	store_close(st);
	assert_int_equal(sql_int(dbpath, "PRAGMA application_id"),
	    0x434d4442);
	{
		sqlite3		*db;
		sqlite3_stmt	*s;

		assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode",
		    -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(s, 0),
		    "wal");
		sqlite3_finalize(s);
		sqlite3_close(db);
	}

	/* Not a database at all. */
	snprintf(path, sizeof(path), "%s/text.db", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not SQLite, just some text that is long enough to "
	    "look like a header of something else entirely\n", f);
	fclose(f);
	err[0] = '\0';
	assert_null(store_open(path, STORE_CREATE, err, sizeof(err)));
	assert_non_null(strstr(err, "not a certmint database"));

	/* Another application's SQLite file. */
	snprintf(path, sizeof(path), "%s/other.db", dir);
	sql_exec(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
	err[0] = '\0';
	assert_null(store_open(path, STORE_CREATE, err, sizeof(err)));
	assert_non_null(strstr(err, "not a certmint database"));
	assert_int_equal(sql_int(path, "SELECT x FROM t"), 1);

	/* A schema from a newer certmint. */
	sql_exec(dbpath, "PRAGMA user_version = 999");
	err[0] = '\0';
	assert_null(store_open(dbpath, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "newer"));

	/* A directory. */
	err[0] = '\0';
	assert_null(store_open(dir, STORE_CREATE, err, sizeof(err)));
	assert_true(err[0] != '\0');
}

/* A request with every column, two attributes and an extension. */
static void
request_init(struct db_request *r, int64_t id, int32_t disp)
{
	static unsigned char raw[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	static unsigned char name[] = { 0x30, 0x00 };
	static unsigned char ext[] = { 0x30, 0x00 };
	static struct db_attr attrs[2] = {
		{ "CertificateTemplate", "tls-server" },
		{ "Comment", "a value with \"quotes\" and\nnewline" },
	};
	static struct db_ext exts[1] = {
		{ "2.5.29.19", 1, ext, sizeof(ext) },
	};

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->raw_request = raw;
	r->raw_request_len = sizeof(raw);
	r->request_type = CR_IN_PKCS10;
	r->request_flags = 4;
	r->disposition = disp;
	r->disposition_message = "Issued";
	r->status_code = 0;
	r->requester_name = "alice";
	r->caller_name = "127.0.0.1";
	r->submitted_when = 1700000000 + id;
	r->resolved_when = disp == CM_DISP_PENDING ? 0 : 1700000100 + id;
	r->revoked_reason = -1;
	r->request_dn = "CN=host";
	r->request_raw_name = name;
	r->request_raw_name_len = sizeof(name);
	r->profile = "tls-server";
	r->attrs = attrs;
	r->nattrs = 2;
	r->exts = exts;
	r->nexts = 1;
}

static void
cert_init(struct db_cert *c, int64_t id, const char *serial, const char *cn)
{
	static unsigned char raw[] = { 0x30, 0x02, 0x05, 0x00 };
	static unsigned char key[] = { 0x04, 0x01, 0x02 };

	memset(c, 0, sizeof(*c));
	c->request_id = id;
	c->serial = (char *)serial;
	c->raw = raw;
	c->raw_len = sizeof(raw);
	c->not_before = 1700000000;
	c->not_after = 1800000000;
	c->subject_dn = "CN=host";
	c->common_name = (char *)cn;
	c->public_key_algorithm = "1.2.840.10045.2.1";
	c->public_key_length = 256;
	c->raw_public_key = key;
	c->raw_public_key_len = sizeof(key);
	c->hash = "ab";
	c->ski = "cd";
}

static void
test_request_roundtrip(void **state)
{
	struct store	*st = fresh("req");
	struct db_request r, g;
	struct db_cert	 c, gc;
	int64_t		 max;

	(void)state;
	assert_int_equal(store_max_request_id(st, &max), 0);
	assert_int_equal(max, 0);
	request_init(&r, 1, CM_DISP_ISSUED);
	cert_init(&c, 1, "7f01", "host");
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_insert(st, &r), 0);
	assert_int_equal(store_cert_insert(st, &c), 0);
	assert_int_equal(store_commit(st), 0);

	memset(&g, 0, sizeof(g));
	assert_int_equal(store_request_get(st, 1, &g), 0);
	assert_int_equal(g.id, 1);
	assert_int_equal(g.raw_request_len, r.raw_request_len);
	assert_memory_equal(g.raw_request, r.raw_request, r.raw_request_len);
	assert_int_equal(g.request_type, CR_IN_PKCS10);
	assert_int_equal(g.request_flags, 4);
	assert_int_equal(g.disposition, CM_DISP_ISSUED);
	assert_string_equal(g.disposition_message, "Issued");
	assert_string_equal(g.requester_name, "alice");
	assert_string_equal(g.caller_name, "127.0.0.1");
	assert_int_equal(g.submitted_when, r.submitted_when);
	assert_int_equal(g.resolved_when, r.resolved_when);
	assert_int_equal(g.revoked_reason, -1);
	assert_string_equal(g.request_dn, "CN=host");
	assert_string_equal(g.profile, "tls-server");
	assert_int_equal(g.nattrs, 2);
	assert_string_equal(g.attrs[1].value, r.attrs[1].value);
	assert_int_equal(g.nexts, 1);
	assert_string_equal(g.exts[0].oid, "2.5.29.19");
	assert_int_equal(g.exts[0].flags, 1);
	db_request_free(&g);

	memset(&gc, 0, sizeof(gc));
	assert_int_equal(store_cert_get(st, 1, &gc), 0);
	assert_string_equal(gc.serial, "7f01");
	assert_int_equal(gc.raw_len, c.raw_len);
	assert_memory_equal(gc.raw, c.raw, c.raw_len);
	assert_int_equal(gc.not_after, 1800000000);
	assert_int_equal(gc.public_key_length, 256);
	assert_string_equal(gc.common_name, "host");
	db_cert_free(&gc);
	memset(&gc, 0, sizeof(gc));
	assert_int_equal(store_cert_by_serial(st, "7f01", &gc), 0);
	assert_int_equal(gc.request_id, 1);
	db_cert_free(&gc);

	/* Unknown ids and serials. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_request_get(st, 2, &g), CM_E_NOTFOUND);
	assert_int_equal(store_cert_get(st, 2, &gc), CM_E_NOTFOUND);
	assert_int_equal(store_cert_by_serial(st, "ffff", &gc), CM_E_NOTFOUND);

	/* A serial is never given twice. */
	request_init(&r, 2, CM_DISP_ISSUED);
	cert_init(&c, 2, "7f01", "other");
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_insert(st, &r), 0);
	assert_int_equal(store_cert_insert(st, &c), STORE_E_DUPLICATE);
	assert_int_equal(store_rollback(st), 0);
	/* The rollback took the request with it. */
	assert_int_equal(store_request_get(st, 2, &g), CM_E_NOTFOUND);
	assert_int_equal(store_max_request_id(st, &max), 0);
	assert_int_equal(max, 1);

	/* Attributes: replace and delete. */
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_attr_set(st, 1, "Comment", "new"), 0);
	assert_int_equal(store_attr_set(st, 1, "CertificateTemplate", NULL),
	    0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_request_get(st, 1, &g), 0);
	assert_int_equal(g.nattrs, 1);
	assert_string_equal(g.attrs[0].name, "Comment");
	assert_string_equal(g.attrs[0].value, "new");
	db_request_free(&g);
	store_close(st);
}

/* Updates change what they say, and refuse when the row moved on. */
static void
test_update_conflict(void **state)
{
	struct store	*st = fresh("upd");
	struct db_request r, g;

	(void)state;
	request_init(&r, 5, CM_DISP_PENDING);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_insert(st, &r), 0);
	assert_int_equal(store_commit(st), 0);

	r.disposition = CM_DISP_DENIED;
	r.disposition_message = "Denied by admin";
	r.resolved_when = 1700009999;
	r.exts = NULL;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_update(st, &r, CM_DISP_PENDING), 0);
	assert_int_equal(store_commit(st), 0);

	/* A second resolution of the same pending request conflicts. */
	r.disposition = CM_DISP_ISSUED;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_update(st, &r, CM_DISP_PENDING),
	    STORE_E_CONFLICT);
	assert_int_equal(store_rollback(st), 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_request_get(st, 5, &g), 0);
	assert_int_equal(g.disposition, CM_DISP_DENIED);
	assert_string_equal(g.disposition_message, "Denied by admin");
	assert_int_equal(g.resolved_when, 1700009999);
	/* exts NULL: the extensions stay. */
	assert_int_equal(g.nexts, 1);
	db_request_free(&g);

	r.id = 77;
	assert_int_equal(store_begin(st), 0);
	assert_true(store_request_update(st, &r, -1) < 0);
	assert_int_equal(store_rollback(st), 0);
	store_close(st);
}

struct seen {
	int64_t		 ids[32];
	char		 serials[32][8];
	int32_t		 reasons[32];
	int		 n;
};

static int
view_cb(void *arg, const struct db_request *r, const struct db_cert *c)
{
	struct seen	*s = arg;

	(void)c;
	s->ids[s->n++] = r->id;
	return 0;
}

static int
revoked_cb(void *arg, const struct db_revoked *r)
{
	struct seen	*s = arg;

	snprintf(s->serials[s->n], sizeof(s->serials[0]), "%s", r->serial);
	s->reasons[s->n++] = r->reason;
	return 0;
}

static int
stop_cb(void *arg, const struct db_request *r, const struct db_cert *c)
{
	(void)arg;
	(void)r;
	(void)c;
	return 42;
}

/* Compare what a view returned with the expected ids. */
static void
expect_ids(const struct seen *s, const int64_t *want, int n)
{
	int	 i;

	assert_int_equal(s->n, n);
	for (i = 0; i < n; i++)
		assert_int_equal(s->ids[i], want[i]);
}

/*
 * Six requests in every state; the views and filters pick the right ones,
 * and the revoked walks give base and delta CRL content.
 */
static void
test_views_and_revoked(void **state)
{
	static const int32_t disps[] = { CM_DISP_ISSUED, CM_DISP_PENDING,
	    CM_DISP_DENIED, CM_DISP_REVOKED, CM_DISP_ERROR, CM_DISP_ISSUED };
	static const char *const cns[] = { "alpha", NULL, NULL, "beta",
	    NULL, "alphabet" };
	struct store	*st = fresh("views");
	struct db_request r;
	struct db_cert	 c;
	struct db_filter f;
	struct db_stats	 stats;
	struct db_crl	 base;
	struct db_event	 ev;
	struct seen	 s;
	char		 serial[8];
	int64_t		 id, as_of;

	(void)state;
	assert_int_equal(store_begin(st), 0);
	for (id = 1; id <= 6; id++) {
		request_init(&r, id, disps[id - 1]);
		if (id == 4) {
			r.revoked_when = 1750000000;
			r.revoked_effective_when = 1750000000;
			r.revoked_reason = 1;
		}
		if (id == 6) {
			/* Was on hold, released at 1750000500. */
			r.unrevoked_when = 1750000500;
			r.requester_name = "bob";
		}
		assert_int_equal(store_request_insert(st, &r), 0);
		if (cns[id - 1] != NULL) {
			snprintf(serial, sizeof(serial), "%02x", (int)id);
			cert_init(&c, id, serial, cns[id - 1]);
			assert_int_equal(store_cert_insert(st, &c), 0);
		}
	}
	assert_int_equal(store_commit(st), 0);

	memset(&f, 0, sizeof(f));
	f.view = VIEW_QUEUE;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 2 }, 1);

	f.view = VIEW_LOG;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 1, 3, 4, 5, 6 }, 5);

	f.view = VIEW_LOGFAIL;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 3, 5 }, 2);

	f.view = VIEW_REVOKED;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 4 }, 1);

	f.view = VIEW_ISSUED;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 1, 6 }, 2);

	f.view = VIEW_ALL;
	f.common_name = "alpha";
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 1, 6 }, 2);
	f.common_name = NULL;
	f.requester = "bob";
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 6 }, 1);
	f.requester = NULL;
	f.serial = "04";
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 4 }, 1);
	f.serial = NULL;
	f.min_id = 2;
	f.max_id = 5;
	f.limit = 2;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 2, 3 }, 2);
	memset(&f, 0, sizeof(f));
	f.view = VIEW_ALL;
	f.since = 1700000003;
	f.until = 1700000005;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_view(st, &f, view_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 3, 4 }, 2);
	/* A callback's non-zero answer stops the walk and is returned. */
	assert_int_equal(store_view(st, &f, stop_cb, NULL), 42);

	/* Base CRL: the revoked certificate, as of no event yet. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_each(st, NULL, 0, 0, revoked_cb, &s, &as_of),
	    0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.serials[0], "04");
	assert_int_equal(s.reasons[0], 1);
	assert_int_equal(as_of, 0);
	/*
	 * A base of before migration 7 goes by time. Since before both:
	 * the revocation and the release (8).
	 */
	memset(&base, 0, sizeof(base));
	base.as_of_seq = -1;
	base.this_update = 1740000001;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_each(st, &base, 0, 0, revoked_cb, &s, &as_of),
	    0);
	assert_int_equal(s.n, 2);
	assert_true((strcmp(s.serials[0], "04") == 0 && s.reasons[1] == 8 &&
	    strcmp(s.serials[1], "06") == 0) ||
	    (strcmp(s.serials[1], "04") == 0 && s.reasons[0] == 8 &&
	    strcmp(s.serials[0], "06") == 0));
	/* Since after the revocation: only the release. */
	base.this_update = 1750000101;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_each(st, &base, 0, 0, revoked_cb, &s, &as_of),
	    0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.serials[0], "06");
	assert_int_equal(s.reasons[0], 8);

	/*
	 * By event: 4's revocation (seq 1), a base CRL as of it, in the
	 * same second, then 6's release (seq 2). A delta on that base lists
	 * the release only, though the revocation shares the base's second.
	 */
	assert_int_equal(store_begin(st), 0);
	memset(&ev, 0, sizeof(ev));
	ev.event = CM_EXITEVENT_CERTREVOKED;
	ev.context = 4;
	ev.time = 1750000000;
	assert_int_equal(store_event_insert(st, &ev), 0);
	ev.event = CM_EXITEVENT_CERTUNREVOKED;
	ev.context = 6;
	ev.time = 1750000500;
	assert_int_equal(store_event_insert(st, &ev), 0);
	assert_int_equal(store_commit(st), 0);
	base.this_update = 1750000000;
	base.as_of_seq = 1;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_each(st, &base, 0, 0, revoked_cb, &s, &as_of),
	    0);
	assert_int_equal(as_of, 2);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.serials[0], "06");
	assert_int_equal(s.reasons[0], 8);
	/* On a base of before both: both, each once. */
	base.as_of_seq = 0;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_each(st, &base, 0, 0, revoked_cb, &s, &as_of),
	    0);
	assert_int_equal(s.n, 2);
	/* On a base as of both: nothing. */
	base.as_of_seq = 2;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_revoked_each(st, &base, 0, 0, revoked_cb, &s, &as_of),
	    0);
	assert_int_equal(s.n, 0);

	assert_int_equal(store_stats(st, &stats), 0);
	assert_int_equal(stats.total, 6);
	assert_int_equal(stats.pending, 1);
	assert_int_equal(stats.issued, 2);
	assert_int_equal(stats.revoked, 1);
	assert_int_equal(stats.denied, 1);
	assert_int_equal(stats.failed, 1);
	store_close(st);
}

static int
crl_cb(void *arg, const struct db_crl *c)
{
	struct seen	*s = arg;

	assert_null(c->raw);
	s->ids[s->n++] = c->number;
	return 0;
}

/* CRLs: latest base and delta, newest-first listing, max number. */
static void
test_crls(void **state)
{
	static unsigned char raw[] = { 0x30, 0x00 };
	struct store	*st = fresh("crls");
	struct db_crl	 c, g;
	struct seen	 s;
	int64_t		 max, n;

	(void)state;
	assert_int_equal(store_max_crl_number(st, &max), 0);
	assert_int_equal(max, 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_crl_latest(st, 0, 0, &g), CM_E_NOTFOUND);
	assert_int_equal(store_crl_latest_head(st, 1, 0, &g), CM_E_NOTFOUND);
	assert_int_equal(store_begin(st), 0);
	for (n = 1; n <= 4; n++) {
		memset(&c, 0, sizeof(c));
		c.number = n;
		c.base_number = n == 3 ? 2 : -1;	/* 3 is a delta */
		c.this_update = 1700000000 + n;
		c.next_update = 1700090000 + n;
		c.count = n * 10;
		c.as_of_seq = n == 1 ? -1 : n * 100;	/* 1: NULL */
		c.raw = raw;
		c.raw_len = sizeof(raw);
		assert_int_equal(store_crl_insert(st, &c), 0);
		assert_true(c.row_id > 0);
	}
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_max_crl_number(st, &max), 0);
	assert_int_equal(max, 4);
	assert_int_equal(store_crl_latest(st, 0, 0, &g), 0);
	assert_int_equal(g.number, 4);
	assert_int_equal(g.count, 40);
	assert_int_equal(g.as_of_seq, 400);
	assert_int_equal(g.raw_len, sizeof(raw));
	db_crl_free(&g);
	/* The same without its bytes, for the CRL schedule. */
	assert_int_equal(store_crl_latest_head(st, 0, 0, &g), 0);
	assert_int_equal(g.number, 4);
	assert_int_equal(g.next_update, 1700090004);
	assert_null(g.raw);
	assert_int_equal(store_crl_latest_head(st, 1, 0, &g), 0);
	assert_int_equal(g.number, 3);
	assert_int_equal(g.as_of_seq, 300);
	assert_int_equal(store_crl_get(st, 1, &g), 0);
	assert_int_equal(g.as_of_seq, -1);
	db_crl_free(&g);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_crl_latest(st, 1, 0, &g), 0);
	assert_int_equal(g.number, 3);
	assert_int_equal(g.base_number, 2);
	db_crl_free(&g);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_crl_each(st, 0, crl_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 4, 3, 2, 1 }, 4);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_crl_each(st, 2, crl_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ 4, 3 }, 2);
	store_close(st);
}

static int
event_cb(void *arg, const struct db_event *e)
{
	struct seen	*s = arg;

	s->ids[s->n++] = e->seq;
	return 0;
}

static int
dl_cb(void *arg, const struct db_dead_letter *d)
{
	struct seen	*s = arg;

	s->ids[s->n] = d->seq;
	s->reasons[s->n++] = d->attempts;
	return 0;
}

/*
 * Events get increasing sequence numbers and are read back in order;
 * cursors and dead letters per module; all of it survives reopening, and
 * a read-only store refuses writes.
 */
static void
test_events_cursors_dead_letters(void **state)
{
	struct store	*st = fresh("events");
	struct db_event	 e, g;
	struct db_dead_letter d;
	struct db_stats	 stats;
	struct seen	 s;
	int64_t		 seq[5], v, n;
	char		 err[256];
	int		 i;

	(void)state;
	assert_int_equal(store_begin(st), 0);
	for (i = 0; i < 5; i++) {
		memset(&e, 0, sizeof(e));
		e.event = CM_EXITEVENT_CERTISSUED;
		e.context = 100 + i;
		e.time = 1700000000 + i;
		assert_int_equal(store_event_insert(st, &e), 0);
		seq[i] = e.seq;
		if (i > 0)
			assert_true(seq[i] > seq[i - 1]);
	}
	assert_int_equal(store_commit(st), 0);

	/* Rolled-back events are not there. */
	assert_int_equal(store_begin(st), 0);
	memset(&e, 0, sizeof(e));
	e.event = CM_EXITEVENT_CERTDENIED;
	assert_int_equal(store_event_insert(st, &e), 0);
	assert_int_equal(store_rollback(st), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_events_after(st, seq[1], 0, event_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ seq[2], seq[3], seq[4] }, 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_events_after(st, 0, 2, event_cb, &s), 0);
	expect_ids(&s, (int64_t[]){ seq[0], seq[1] }, 2);
	memset(&g, 0, sizeof(g));
	assert_int_equal(store_event_get(st, seq[3], &g), 0);
	assert_int_equal(g.context, 103);
	assert_int_equal(g.event, CM_EXITEVENT_CERTISSUED);
	assert_int_equal(store_event_get(st, seq[4] + 100, &g), CM_E_NOTFOUND);

	assert_int_equal(store_cursor_get(st, "A.Exit", &v), CM_E_NOTFOUND);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_cursor_set(st, "A.Exit", seq[2]), 0);
	assert_int_equal(store_cursor_set(st, "A.Exit", seq[3]), 0);
	assert_int_equal(store_cursor_set(st, "B.Exit", seq[0]), 0);
	memset(&d, 0, sizeof(d));
	d.module = "A.Exit";
	d.seq = seq[1];
	d.event = CM_EXITEVENT_CERTISSUED;
	d.context = 101;
	d.attempts = 3;
	d.error = "connection refused";
	d.time = 1700000500;
	assert_int_equal(store_dead_letter_add(st, &d), 0);
	d.attempts = 5;		/* replaces the row */
	assert_int_equal(store_dead_letter_add(st, &d), 0);
	d.seq = seq[2];
	assert_int_equal(store_dead_letter_add(st, &d), 0);
	d.module = "B.Exit";
	assert_int_equal(store_dead_letter_add(st, &d), 0);
	assert_int_equal(store_commit(st), 0);
	store_close(st);

	/* Reopen: everything is still there. */
	st = store_open(dbpath, 0, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_cursor_get(st, "A.Exit", &v), 0);
	assert_int_equal(v, seq[3]);
	assert_int_equal(store_dead_letter_count(st, "A.Exit", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_dead_letter_count(st, NULL, &n), 0);
	assert_int_equal(n, 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dead_letter_each(st, "A.Exit", dl_cb, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], seq[1]);
	assert_int_equal(s.reasons[0], 5);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_dead_letter_delete(st, "A.Exit", seq[1]), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_dead_letter_count(st, "A.Exit", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_stats(st, &stats), 0);
	assert_int_equal(stats.last_event_seq, seq[4]);
	store_close(st);

	/* Read-only: reads work, writes do not. */
	st = store_open(dbpath, STORE_READONLY, err, sizeof(err));
	assert_non_null(st);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_events_after(st, 0, 0, event_cb, &s), 0);
	assert_int_equal(s.n, 5);
	if (store_begin(st) == 0) {
		assert_true(store_cursor_set(st, "C.Exit", 1) < 0);
		store_rollback(st);
	}
	assert_int_equal(store_cursor_get(st, "C.Exit", &v), CM_E_NOTFOUND);
	store_close(st);
}

static const struct db_ext *
find_ext(const struct db_request *r, const char *oid)
{
	size_t	 i;

	for (i = 0; i < r->nexts; i++)
		if (strcmp(r->exts[i].oid, oid) == 0)
			return &r->exts[i];
	return NULL;
}

/*
 * Extensions (one BLOB per request since migration 3): sorted by OID, the
 * last of the same OID kept, replaced by an update that gives them and
 * kept by one that does not; rows from before migration 3 still read from
 * request_exts; a database at version 2 is migrated; a damaged BLOB is an
 * error, not a crash.
 */
static void
test_extensions(void **state)
{
	static unsigned char v1[] = { 0x01 }, v2[] = { 0x02, 0x02 },
	    v3[] = { 0x03 };
	struct db_ext	 exts[3] = {
		{ "2.5.29.19", 1, v1, sizeof(v1) },
		{ "2.5.29.15", 0, v2, sizeof(v2) },
		{ "2.5.29.19", 0x10, v3, sizeof(v3) },	/* replaces the first */
	};
	struct store	*st = fresh("exts");
	struct db_request r, g;
	char		 err[256], sql[512];

	(void)state;
	request_init(&r, 1, CM_DISP_ISSUED);
	r.exts = exts;
	r.nexts = 3;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_insert(st, &r), 0);
	r.id = 2;
	r.exts = NULL;
	r.nexts = 0;
	assert_int_equal(store_request_insert(st, &r), 0);
	assert_int_equal(store_commit(st), 0);

	memset(&g, 0, sizeof(g));
	assert_int_equal(store_request_get(st, 1, &g), 0);
	assert_int_equal(g.nexts, 2);
	assert_string_equal(g.exts[0].oid, "2.5.29.15");
	assert_string_equal(g.exts[1].oid, "2.5.29.19");
	assert_int_equal(g.exts[1].flags, 0x10);
	assert_int_equal(g.exts[1].len, 1);
	assert_memory_equal(g.exts[1].value, v3, 1);
	assert_memory_equal(g.exts[0].value, v2, 2);
	db_request_free(&g);
	assert_int_equal(store_request_get(st, 2, &g), 0);
	assert_int_equal(g.nexts, 0);
	db_request_free(&g);

	/* Update: with exts they are replaced, without they stay. */
	request_init(&r, 1, CM_DISP_REVOKED);
	r.exts = &exts[1];
	r.nexts = 1;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_update(st, &r, -1), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_request_get(st, 1, &g), 0);
	assert_int_equal(g.nexts, 1);
	assert_string_equal(g.exts[0].oid, "2.5.29.15");
	db_request_free(&g);
	r.exts = NULL;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_update(st, &r, -1), 0);
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_request_get(st, 1, &g), 0);
	assert_int_equal(g.nexts, 1);
	db_request_free(&g);
	store_close(st);

	/* A row as written before migration 3, and a damaged BLOB. */
	snprintf(sql, sizeof(sql), "INSERT INTO requests (id, request_type, "
	    "disposition) VALUES (3, 256, 20); INSERT INTO request_exts VALUES "
	    "(3, '2.5.29.17', 2, x'3000'); INSERT INTO requests (id, "
	    "request_type, disposition, exts) VALUES (4, 256, 20, x'0132');");
	sql_exec(dbpath, sql);
	st = store_open(dbpath, 0, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_request_get(st, 3, &g), 0);
	assert_int_equal(g.nexts, 1);
	assert_non_null(find_ext(&g, "2.5.29.17"));
	assert_int_equal(find_ext(&g, "2.5.29.17")->flags, 2);
	db_request_free(&g);
	assert_true(store_request_get(st, 4, &g) < 0);
	/* The old rows go when the extensions are rewritten. */
	request_init(&r, 3, CM_DISP_ISSUED);
	r.exts = &exts[1];
	r.nexts = 1;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_request_update(st, &r, -1), 0);
	assert_int_equal(store_commit(st), 0);
	store_close(st);
	assert_int_equal(sql_int(dbpath,
	    "SELECT count(*) FROM request_exts WHERE request_id = 3"), 0);

	/* A version 2 database gains the column when opened. */
	sql_exec(dbpath, "ALTER TABLE requests DROP COLUMN exts; "
	    "ALTER TABLE requests DROP COLUMN hist_seq; "
	    "DROP TABLE request_history; DROP TABLE ca_certs; DROP TABLE meta; "
	    "DROP INDEX events_crl; ALTER TABLE crls DROP COLUMN as_of_seq; "
	    "ALTER TABLE crls DROP COLUMN key_idx; "
	    "ALTER TABLE certs DROP COLUMN ca_idx; "
	    "PRAGMA user_version = 2");
	st = store_open(dbpath, 0, err, sizeof(err));
	if (st == NULL)
		fail_msg("%s", err);
	assert_int_equal(store_schema_version(st), schema_latest());
	assert_int_equal(store_request_get(st, 1, &g), 0);
	assert_int_equal(g.nexts, 0);	/* its BLOB went with the column */
	db_request_free(&g);
	store_close(st);
}

/* One event row for request id (0: none) or CRL crl_row_id. */
static int64_t
add_event(struct store *st, int32_t event, int64_t id, int64_t crl_row_id)
{
	struct db_event	 ev = { 0 };

	ev.event = event;
	ev.context = id;
	ev.time = 1700000000;
	ev.crl_row_id = crl_row_id;
	assert_int_equal(store_event_insert(st, &ev), 0);
	return ev.seq;
}

static int64_t
add_crl(struct store *st, int64_t number, int64_t base, unsigned char tag)
{
	unsigned char	 raw[1] = { tag };
	struct db_crl	 c = { 0 };

	c.number = number;
	c.base_number = base;
	c.raw = raw;
	c.raw_len = 1;
	assert_int_equal(store_crl_insert(st, &c), 0);
	return add_event(st, CM_EXITEVENT_CRLISSUED, 0, c.row_id);
}

/*
 * Snapshots: each event reads the request, its extensions, the CRLs and
 * the CA certificate as they were when it committed.
 */
static void
test_history(void **state)
{
	struct store	*st = fresh("hist");
	static unsigned char ku[] = { 0x03, 0x02, 0x05, 0xa0 };
	struct db_ext	 issued_exts[1] = { { "2.5.29.15", 0, ku, sizeof(ku) } };
	unsigned char	 ca1[] = { 1, 1 }, ca2[] = { 2, 2, 2 }, *der;
	struct db_request r, g;
	struct db_crl	 crl;
	int64_t		 pend, other, iss, rev, b1, d1, b2;
	size_t		 len;
	int		 count, key;

	(void)state;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_cacert_note(st, 0, 0, ca1, sizeof(ca1)), 0);
	request_init(&r, 1, CM_DISP_PENDING);
	r.disposition_message = "Taken under submission";
	assert_int_equal(store_request_insert(st, &r), 0);
	pend = add_event(st, CM_EXITEVENT_CERTPENDING, 1, 0);
	b1 = add_crl(st, 1, -1, 0xb1);
	other = add_event(st, CM_EXITEVENT_STARTUP, 0, 0);
	/* Resubmitted and issued in one batch with its event... */
	request_init(&r, 1, CM_DISP_ISSUED);
	r.disposition_message = "Resubmitted by root";
	r.exts = issued_exts;
	assert_int_equal(store_request_update(st, &r, CM_DISP_PENDING), 0);
	iss = add_event(st, CM_EXITEVENT_CERTISSUED, 1, 0);
	assert_int_equal(store_commit(st), 0);
	/* ...then revoked; a CRL and a new CA certificate follow. */
	assert_int_equal(store_begin(st), 0);
	request_init(&r, 1, CM_DISP_REVOKED);
	r.exts = NULL;
	r.revoked_reason = 1;
	r.revoked_when = 1700000500;
	assert_int_equal(store_request_update(st, &r, CM_DISP_ISSUED), 0);
	rev = add_event(st, CM_EXITEVENT_CERTREVOKED, 1, 0);
	d1 = add_crl(st, 2, 1, 0xd1);
	assert_int_equal(store_cacert_note(st, 0, 0, ca1, sizeof(ca1)), 0);
	/* Index 0 is ca1: another certificate there is refused. */
	assert_int_equal(store_cacert_note(st, 0, 0, ca2, sizeof(ca2)),
	    STORE_E_CONFLICT);
	/* A renewal with a new key: index 1, key 1. */
	assert_int_equal(store_cacert_note(st, 1, 1, ca2, sizeof(ca2)), 0);
	b2 = add_crl(st, 3, -1, 0xb2);
	/* A conflicting update keeps no history. */
	assert_int_equal(store_request_update(st, &r, CM_DISP_PENDING),
	    STORE_E_CONFLICT);
	assert_int_equal(store_commit(st), 0);

	assert_int_equal(store_request_get_at(st, 1, pend, &g), 0);
	assert_int_equal(g.disposition, CM_DISP_PENDING);
	assert_string_equal(g.disposition_message, "Taken under submission");
	assert_int_equal(g.nexts, 1);
	assert_string_equal(g.exts[0].oid, "2.5.29.19");	/* requested */
	assert_int_equal(g.nattrs, 2);
	db_request_free(&g);
	assert_int_equal(store_request_get_at(st, 1, other, &g), 0);
	assert_int_equal(g.disposition, CM_DISP_PENDING);
	db_request_free(&g);
	assert_int_equal(store_request_get_at(st, 1, iss, &g), 0);
	assert_int_equal(g.disposition, CM_DISP_ISSUED);
	assert_string_equal(g.disposition_message, "Resubmitted by root");
	assert_int_equal(g.revoked_reason, -1);
	assert_int_equal(g.nexts, 1);
	assert_string_equal(g.exts[0].oid, "2.5.29.15");	/* issued */
	db_request_free(&g);
	assert_int_equal(store_request_get_at(st, 1, rev, &g), 0);
	assert_int_equal(g.disposition, CM_DISP_REVOKED);
	assert_int_equal(g.revoked_reason, 1);
	assert_string_equal(g.exts[0].oid, "2.5.29.15");
	db_request_free(&g);
	assert_int_equal(store_request_get_at(st, 1, 0, &g), 0);
	assert_int_equal(g.disposition, CM_DISP_REVOKED);
	db_request_free(&g);

	/* CRLs: none before the first; each event sees those before it. */
	assert_int_equal(store_crl_at(st, 0, 0, pend, &crl), CM_E_NOTFOUND);
	assert_int_equal(store_crl_at(st, 0, 0, b1, &crl), 0);
	assert_int_equal(crl.raw[0], 0xb1);
	db_crl_free(&crl);
	assert_int_equal(store_crl_at(st, 1, 0, rev, &crl), CM_E_NOTFOUND);
	assert_int_equal(store_crl_at(st, 1, 0, d1, &crl), 0);
	assert_int_equal(crl.raw[0], 0xd1);
	db_crl_free(&crl);
	assert_int_equal(store_crl_at(st, 0, 0, d1, &crl), 0);
	assert_int_equal(crl.raw[0], 0xb1);
	db_crl_free(&crl);
	assert_int_equal(store_crl_at(st, 0, 0, b2, &crl), 0);
	assert_int_equal(crl.raw[0], 0xb2);
	db_crl_free(&crl);

	/* CA certificates: the first for every event, the second after. */
	assert_int_equal(store_cacert_at(st, pend, -1, &der, &len, &count, &key), 0);
	assert_int_equal(count, 1);
	assert_int_equal(len, sizeof(ca1));
	free(der);
	assert_int_equal(store_cacert_at(st, b2, -1, &der, &len, &count, &key), 0);
	assert_int_equal(count, 2);
	assert_int_equal(len, sizeof(ca2));
	assert_int_equal(key, 1);
	free(der);
	assert_int_equal(store_cacert_at(st, b2, 0, &der, &len, &count, &key), 0);
	assert_int_equal(len, sizeof(ca1));
	assert_int_equal(key, 0);
	free(der);
	assert_int_equal(store_cacert_at(st, rev, 1, &der, &len, &count, &key),
	    CM_E_NOTFOUND);
	assert_int_equal(store_cacert_at(st, 0, 1, &der, &len, &count, &key), 0);
	free(der);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_update_conflict),
		cmocka_unit_test(test_views_and_revoked),
		cmocka_unit_test(test_crls),
		cmocka_unit_test(test_events_cursors_dead_letters),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_history),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
