/*
 * Unit tests for src/common: encodings, time, paths and the INI config.
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

#include "common/common.h"
#include "common/config.h"

static void
test_hex(void **state)
{
	unsigned char	 in[] = { 0x00, 0x7f, 0xab, 0xff }, *out;
	size_t		 len;
	char		*s = hex_encode(in, sizeof(in));

	assert_string_equal(s, "007fabff");
	assert_int_equal(hex_decode("00:7F:ab:ff", &out, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, in, 4);
	free(out);
	free(s);
	assert_int_equal(hex_decode("abc", &out, &len), -1);
	assert_int_equal(hex_decode("zz", &out, &len), -1);
	assert_int_equal(hex_decode("", &out, &len), -1);
}

static void
test_base64(void **state)
{
	const char	*vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	unsigned char	*out;
	size_t		 i, len;
	char		*s;

	for (i = 0; i < nitems(vec); i++) {
		s = base64_encode((const unsigned char *)vec[i][0], strlen(vec[i][0]));
		assert_string_equal(s, vec[i][1]);
		free(s);
		assert_int_equal(base64_decode(vec[i][1], strlen(vec[i][1]), &out,
		    &len), 0);
		assert_int_equal(len, strlen(vec[i][0]));
		assert_memory_equal(out, vec[i][0], len);
		free(out);
	}
	assert_int_equal(base64_decode("Zm9v\nYmFy", 9, &out, &len), 0);
	assert_int_equal(len, 6);
	free(out);
	assert_int_equal(base64_decode("Zm*v", 4, &out, &len), -1);
	assert_int_equal(base64_decode("Zg==Zg==", 8, &out, &len), -1);
}

static void
test_time(void **state)
{
	char	 buf[32];
	int64_t	 t;

	assert_int_equal(time_parse("2026-11-24T08:00:00Z", &t), 0);
	assert_int_equal(t, 1795507200);
	time_format(t, buf);
	assert_string_equal(buf, "2026-11-24T08:00:00Z");
	/* Four-digit years only: others print as Unix seconds. */
	time_format(-62135596800, buf);
	assert_string_equal(buf, "0001-01-01T00:00:00Z");
	time_format(-62167219200, buf);
	assert_string_equal(buf, "0000-01-01T00:00:00Z");
	time_format(-99999999999, buf);
	assert_string_equal(buf, "@-99999999999");
	time_format(253402300800, buf);
	assert_string_equal(buf, "@253402300800");
	time_format(INT64_MIN, buf);
	assert_string_equal(buf, "@-9223372036854775808");
	assert_int_equal(time_parse("2026-11-24", &t), 0);
	assert_int_equal(t, 1795478400);
	assert_int_equal(time_parse("@42", &t), 0);
	assert_int_equal(t, 42);
	assert_int_equal(time_parse("yesterday", &t), -1);
	assert_int_equal(time_parse("2026-11-24T08:00:00Zjunk", &t), -1);
	/* RFC 3339: offsets, a fraction, lower case. */
	assert_int_equal(time_parse("2026-11-24T09:30:00+01:30", &t), 0);
	assert_int_equal(t, 1795507200);
	assert_int_equal(time_parse("2026-11-24t03:00:00.250-05:00", &t), 0);
	assert_int_equal(t, 1795507200);
	assert_int_equal(time_parse("2026-11-24T08:00:00.999z", &t), 0);
	assert_int_equal(t, 1795507200);
	assert_int_equal(time_parse("2026-11-24T08:00:00", &t), 0);
	assert_int_equal(t, 1795507200);
	assert_int_equal(time_parse("2026-11-24T08:00:00+1:00", &t), -1);
	assert_int_equal(time_parse("2026-11-24T08:00:00+24:00", &t), -1);
	assert_int_equal(time_parse("2026-11-24T08:00:00.Z", &t), -1);
	/* A day the month has not is a typo, not the next month. */
	assert_int_equal(time_parse("2026-02-30", &t), -1);
	assert_int_equal(time_parse("2028-02-29", &t), 0);
	assert_int_equal(time_parse("2026-13-01", &t), -1);
}

static void
test_strings(void **state)
{
	char	 s[] = "  padded \t\n", *p;

	assert_true(attr_name_eq("Cert-File", "certfile"));
	assert_true(attr_name_eq("Certificate Template", "certificatetemplate"));
	assert_false(attr_name_eq("CertFile", "CertFiles"));
	p = str_trim(s);
	assert_string_equal(p, "padded");
	p = path_join("/a/b", "c");
	assert_string_equal(p, "/a/b/c");
	free(p);
	p = path_join("/a/b", "/abs");
	assert_string_equal(p, "/abs");
	free(p);
	p = path_dirname("/x/y/z.conf");
	assert_string_equal(p, "/x/y");
	free(p);
	assert_int_equal(key_type_from_name("RSA-3072"), KEY_RSA_3072);
	assert_int_equal(key_type_from_name("dsa"), KEY__MAX);
	assert_int_equal(profile_from_name("sub-ca"), PROFILE_SUB_CA);
}

/* Decimal as a person reads it: 010 is ten; C's forms only when asked. */
static void
test_parse_int(void **state)
{
	int64_t	 v;

	(void)state;
	assert_int_equal(parse_int64("010", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_int64("-5", &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(parse_int64("0x10", &v), -1);
	assert_int_equal(parse_int64("1e3", &v), -1);
	assert_int_equal(parse_int64("", &v), -1);
	assert_int_equal(parse_int64("99999999999999999999", &v), -1);
	assert_int_equal(parse_int64_c("0x101", &v), 0);
	assert_int_equal(v, 0x101);
}

/* An empty file reads as "", a string like any other. */
static void
test_file_read_empty(void **state)
{
	char		 path[] = "/tmp/cm-test-empty-XXXXXX";
	unsigned char	*data;
	size_t		 len;
	int		 fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	assert_int_equal(file_read(path, &data, &len, 4096), 0);
	assert_int_equal(len, 0);
	assert_string_equal((char *)data, "");
	free(data);
	unlink(path);
}

static char *
write_tmp(const char *text)
{
	char	*path = strdup("/tmp/cm-test-config-XXXXXX");
	int	 fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_config_defaults(void **state)
{
	struct cm_config cfg;
	char		 err[512], *u;
	char		*path = write_tmp("[ca]\nname = Test CA\n");

	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.ca_name, "Test CA");
	assert_int_equal(cfg.ca_type, CM_CATYPE_STANDALONE_ROOTCA);
	assert_string_equal(cfg.key_file, "/tmp/ca.key");
	assert_int_equal(cfg.listen_port, 8080);
	/* A template: %8 is "(N)" for the CRLs of key N (url_finish). */
	assert_string_equal(cfg.cdp_url, "http://127.0.0.1:8080/ca%8.crl");
	u = url_finish(cfg.cdp_url, 0, 0);
	assert_string_equal(u, "http://127.0.0.1:8080/ca.crl");
	free(u);
	u = url_finish(cfg.aia_url, 3, 2);
	assert_string_equal(u, "http://127.0.0.1:8080/ca(3).crt");
	free(u);
	u = url_finish(cfg.cdp_url, 3, 2);
	assert_string_equal(u, "http://127.0.0.1:8080/ca(2).crl");
	free(u);
	assert_int_equal(cfg.request_disposition, REQDISP_ISSUE);
	assert_int_equal(cfg.max_body, 65536);
	assert_true(cfg.key_types & (1u << KEY_ED25519));
	assert_false(profile_find(&cfg, "sub-ca")->allowed);
	assert_true(profile_find(&cfg, "tls-server")->allowed);
	assert_string_equal(cfg.profile_list[cfg.default_profile].name,
	    "WebServer");
	config_free(&cfg);
	unlink(path);
	free(path);

	/* Listening on IPv6: the default URLs bracket the address. */
	path = write_tmp("[ca]\nname = Test CA\n[server]\nlisten = ::1\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.base_url, "http://[::1]:8080");
	assert_string_equal(cfg.cdp_url, "http://[::1]:8080/ca%8.crl");
	config_free(&cfg);
	unlink(path);
	free(path);
}

static void
test_config_errors(void **state)
{
	struct cm_config cfg;
	char		 err[512];
	char		*path;

	path = write_tmp("[ca]\nnmae = typo\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key \"nmae\""));
	unlink(path);
	free(path);

	path = write_tmp("[server]\nport = 99999\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "port"));
	unlink(path);
	free(path);

	path = write_tmp("[policy]\nkey_types = ec-p256, dsa-1024\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "dsa-1024"));
	unlink(path);
	free(path);

	path = write_tmp("[server]\nport = 8443\ntls_port = 8443\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tls_port and port are both 8443"));
	unlink(path);
	free(path);

	path = write_tmp("this is not ini\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: syntax error"));
	unlink(path);
	free(path);

	assert_int_equal(config_load("/nonexistent/x.conf", &cfg, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void
test_config_edit(void **state)
{
	struct cm_config cfg;
	char		 err[512];
	char		*path = write_tmp("# comment\n[ca]\nname = A\n\n[policy]\n"
			    "validity_days = 10\n");

	assert_int_equal(config_edit(path, "policy", "request_disposition",
	    "pending", err, sizeof(err)), 0);
	assert_int_equal(config_edit(path, "ca", "name", "B", err, sizeof(err)), 0);
	assert_int_equal(config_edit(path, "Mod.Exit", "url", "http://x", err,
	    sizeof(err)), 0);
	assert_int_equal(config_edit(path, "policy", "validity_days", NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.ca_name, "B");
	assert_int_equal(cfg.request_disposition, REQDISP_PENDING);
	assert_int_equal(cfg.validity_days, 365);
	assert_string_equal(config_get(&cfg, "mod.exit", "URL"), "http://x");
	config_free(&cfg);
	assert_int_equal(config_edit(path, "ca", "bad=key", "x", err,
	    sizeof(err)), -1);
	/* An edit that would leave the file one that does not load is not made. */
	assert_int_equal(config_edit(path, "ca", "no_such_key", "1", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not saved"));
	assert_non_null(strstr(err, "no_such_key"));
	assert_int_equal(config_edit(path, "policy", "validity_days", "many",
	    err, sizeof(err)), -1);
	assert_int_equal(config_edit(path, "exit.Exit", "url", "x", err,
	    sizeof(err)), -1);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_null(config_get(&cfg, "ca", "no_such_key"));
	config_free(&cfg);
	/* A file that did not load may still be edited (to repair it). */
	assert_int_equal(config_edit(path, "ca", "typo", "1", err, sizeof(err)),
	    -1);
	unlink(path);
	free(path);
	path = write_tmp("[ca]\nname = A\ntypo = 1\n");
	assert_int_equal(config_edit(path, "ca", "typo", NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	assert_true(config_section_reserved("Exit.Exit"));
	assert_true(config_section_reserved("acme.Exit"));
	assert_true(config_section_reserved("Profile.Exit"));
	assert_true(config_section_reserved("CA"));
	assert_false(config_section_reserved("MyApp.Exit"));
	assert_false(config_section_reserved("AcmeNotify.Exit"));
	unlink(path);
	free(path);
}

/* A config of text; 0 and cfg loaded, or -1 with err. */
static int
load_text(const char *text, struct cm_config *cfg, char *err, size_t errlen)
{
	char	*path = write_tmp(text);
	int	 rc = config_load(path, cfg, err, errlen);

	unlink(path);
	free(path);
	return rc;
}

/* [crl]: durations, the overlap's default, the old *_hours names. */
static void
test_config_crl(void **state)
{
	struct cm_config cfg;
	char		 err[512];
	int64_t		 n;

	assert_int_equal(load_text("[ca]\nname = A\n", &cfg, err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.crl_period, 7 * 86400);
	assert_int_equal(cfg.crl_overlap, 7 * 86400 / 10);
	assert_int_equal(cfg.delta_period, 86400);
	assert_int_equal(cfg.delta_overlap, 8640);
	assert_int_equal(cfg.crl_on_revoke, 0);
	config_free(&cfg);

	assert_int_equal(load_text("[crl]\nperiod = 6s\noverlap = 3s\n"
	    "delta_period = 4s\npublish_on_revoke = yes\n", &cfg, err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.crl_period, 6);
	assert_int_equal(cfg.crl_overlap, 3);
	assert_int_equal(cfg.delta_period, 4);
	assert_int_equal(cfg.delta_overlap, 3600);	/* 10 % is less than 1h */
	assert_int_equal(cfg.crl_on_revoke, 1);
	config_free(&cfg);

	/* The old names still work, in hours. */
	assert_int_equal(load_text("[crl]\nperiod_hours = 48\n"
	    "delta_period_hours = 2\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.crl_period, 48 * 3600);
	assert_int_equal(cfg.delta_period, 7200);
	config_free(&cfg);

	assert_int_equal(load_text("[crl]\nperiod = 2d\nperiod_hours = 48\n",
	    &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "both period and period_hours"));
	assert_int_equal(load_text("[crl]\noverlap = 0\n", &cfg, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "overlap"));
	assert_int_equal(load_text("[crl]\ndelta_period = 1w\n", &cfg, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "delta_period"));

	assert_int_equal(parse_duration("90s", &n), 0);
	assert_int_equal(n, 90);
	assert_int_equal(parse_duration("12h", &n), 0);
	assert_int_equal(n, 43200);
	/* Too large to count in seconds: refused, not wrapped. */
	assert_int_equal(parse_duration("9223372036854775d", &n), -1);
	assert_int_equal(parse_duration("5x", &n), -1);
}

static void
test_profiles(void **state)
{
	struct cm_config cfg;
	const struct cm_profile *p;
	char		 err[512], *u;

	assert_int_equal(load_text("[ca]\nname = My CA/1\n"
	    "machine_dns_name = pki.example.com\n"
	    "[profile.tls-server]\nmax_validity_days = 100\n"
	    "validity_days = 50\n"
	    "[profile.Lab]\nbase = Web Server\ndomains = lab.example\n"
	    "cdp = ldap:///CN=%7%8,CN=%2%10\n"
	    "[profile.Plain]\neku = 1.2.3.4, clientAuth\n"
	    "[policy]\nprofiles = Lab, Plain\ndefault_profile = lab\n",
	    &cfg, err, sizeof(err)), 0);
	/* A section under an alias changes the built-in. */
	p = profile_find(&cfg, "WebServer");
	assert_non_null(p);
	assert_int_equal(p->max_validity_days, 100);
	assert_false(p->allowed);
	/* A new profile from a base: its rules and the section's. */
	p = profile_find(&cfg, "LAB");
	assert_non_null(p);
	assert_int_equal(p->builtin, -1);
	assert_true(p->allowed);
	assert_int_equal(p->max_validity_days, 100);
	assert_true(p->host_names);
	assert_int_equal(p->ndomains, 1);
	/* Percent-encoding doubled: "%2F" is not token %2 to url_finish. */
	assert_string_equal(p->cdp_url, "ldap:///CN=My%%20CA%%2F1%8,CN=pki"
	    "?certificateRevocationList?base?objectClass=cRLDistributionPoint");
	u = url_finish(p->cdp_url, 4, 1);
	assert_string_equal(u, "ldap:///CN=My%20CA%2F1(1),CN=pki"
	    "?certificateRevocationList?base?objectClass=cRLDistributionPoint");
	free(u);
	assert_ptr_equal(&cfg.profile_list[cfg.default_profile], p);
	/* Without a base: a plain end-entity profile. */
	p = profile_find(&cfg, "Plain");
	assert_int_equal(p->key_usage, KU_DIGITAL_SIGNATURE);
	assert_int_equal(p->neku, 2);
	assert_string_equal(p->eku[1], "1.3.6.1.5.5.7.3.2");
	assert_null(profile_find(&cfg, "Nope"));

	u = url_expand(&cfg, "http://%1/%3%9.crl?%%", 1, err, sizeof(err));
	assert_string_equal(u, "http://pki.example.com/My%%20CA%%2F1+.crl?%%");
	free(u);
	u = url_finish("http://pki.example.com/My%%20CA%%2F1+.crl?%%", 0, 0);
	assert_string_equal(u, "http://pki.example.com/My%20CA%2F1+.crl?%");
	free(u);
	assert_null(url_expand(&cfg, "http://%5/", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown token \"%5\" (known"));
	assert_null(url_expand(&cfg, "http://%5./", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown token \"%5\" (known"));
	assert_null(url_expand(&cfg, "http://%53/", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown token \"%5\" (known"));
	assert_null(url_expand(&cfg, "http://x/%", 0, err, sizeof(err)));
	config_free(&cfg);

#define BAD(text, want) do {						\
	assert_int_equal(load_text(text, &cfg, err, sizeof(err)), -1);	\
	if (strstr(err, want) == NULL)					\
		fail_msg("config error \"%s\" lacks \"%s\"", err, want);	\
} while (0)
	BAD("[profile.X]\nkey_usage = digitalSignature\nca = true\n",
	    "needs keyCertSign");
	BAD("[profile.X]\nkey_usage = keyCertSign\n", "need ca = true");
	BAD("[profile.X]\nhost_names = true\nsan_types = email\n",
	    "only the san_types dns and ip");
	BAD("[profile.X]\neku = serverauth, 1.2.03\n", "dotted OIDs");
	BAD("[profile.X]\npolicies = 3.1\n", "dotted OIDs");
	BAD("[profile.X]\nrevocation_reasons = removeFromCRL\n",
	    "unknown revocation reason");
	BAD("[profile.X]\nvalidity_days = 10\nmax_validity_days = 5\n",
	    "exceeds max_validity_days");
	BAD("[profile.X]\ndomains = .example\n", "expected domain names");
	BAD("[profile.X]\ncolour = red\n", "unknown key \"colour\"");
	BAD("[profile.X/Y]\nca = false\n", "letters, digits");
	BAD("[profile.WebServer]\nbase = ClientAuth\n", "base is for new");
	BAD("[policy]\nprofiles = WebServer, Nope\n", "unknown profile "
	    "\"Nope\"");
	BAD("[policy]\ndefault_profile = Nope\n", "unknown profile");
	BAD("[publish]\ncdp_url = http://%5/\n", "[publish] cdp_url");
	/* A misspelt section is not a module's: an error, not defaults. */
	BAD("[polcy]\nrequest_disposition = deny\n", "unknown section [polcy]");
	BAD("[sever]\nport = 1\n", "unknown section [sever]");
	BAD("[exits]\nactive = x\n", "unknown section [exits]");
	assert_int_equal(load_text("[My.Exit]\nx = 1\n[Her.Policy]\ny = 2\n"
	    "[exit.My.Exit]\nisolation = inline\n", &cfg, err, sizeof(err)),
	    0);
	config_free(&cfg);
#undef BAD
}

/* text_hidden_char: what a subject value may not hold. */
static void
test_hidden_chars(void **state)
{
	static const struct {
		const char	*s;
		size_t		 len;
	} cases[] = {
		{ "\xe2\x80\xae", 3 },	/* U+202E right-to-left override */
		{ "\xe2\x80\xaa", 3 },	/* U+202A */
		{ "\xe2\x81\xa6", 3 },	/* U+2066 isolate */
		{ "\xe2\x80\x8b", 3 },	/* U+200B zero-width space */
		{ "\xe2\x80\x8e", 3 },	/* U+200E LRM */
		{ "\xe2\x80\xa8", 3 },	/* U+2028 line separator */
		{ "\xef\xbb\xbf", 3 },	/* U+FEFF */
		{ "\xef\xbf\xb9", 3 },	/* U+FFF9 */
		{ "\xc2\xad", 2 },		/* soft hyphen */
		{ "\xd8\x9c", 2 },		/* U+061C */
		{ "\xe2\x80\x8c", 0 },	/* ZWNJ: Persian needs it */
		{ "\xe2\x80\x8d", 0 },	/* ZWJ: emoji, Indic */
		{ "\xe2\x82\xac", 0 },	/* the euro sign */
		{ "\xc3\xa9", 0 },		/* é */
		{ "a", 0 },
		{ "\xe2\x80", 0 },		/* cut short */
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(text_hidden_char((const unsigned char *)
		    cases[i].s, strlen(cases[i].s)), cases[i].len);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_hidden_chars),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_file_read_empty),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_edit),
		cmocka_unit_test(test_config_crl),
		cmocka_unit_test(test_profiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
