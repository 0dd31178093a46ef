/*
 * cmd_exit_test.c - `certmint exit test`: run an exit module outside the
 * daemon against a throwaway CA and print every call it makes.
 */
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../exit/exit_host.h"
#include "cli.h"

static void
exit_test_usage(FILE *f)
{
	fprintf(f,
	    "usage: certmint exit test MODULE.so|SCRIPT.lua [--event EVENT]... [--request FILE]\n"
	    "           [--attrib NAME:VALUE]... [--set KEY=VALUE]... [--keep]\n"
	    "\n"
	    "Load an exit module outside the daemon, let a throwaway CA (in a\n"
	    "temporary directory) issue, pend, resubmit, retrieve, deny, revoke,\n"
	    "hold and release, publish a CRL, import, start and stop, and deliver\n"
	    "the recorded events to the module, printing every server callback the\n"
	    "module makes, what it got back, and what notify returned.\n"
	    "\n"
	    "  --event EVENT        deliver only these events (CERTISSUED, CRLISSUED...;\n"
	    "                       repeat or join with '|'); default: the module's mask\n"
	    "  --request FILE       the PKCS#10 request to use (PEM or DER); default: a\n"
	    "                       generated P-256 request for CN=test.example.com\n"
	    "  --attrib NAME:VALUE  a request attribute for every submission\n"
	    "  --set KEY=VALUE      a key of the module's config section\n"
	    "  --keep               keep the throwaway CA directory and say where\n"
	    "\n"
	    "Exit status: 0 when every notify returned CM_OK, 1 otherwise or when\n"
	    "the module cannot be loaded, 2 on usage errors.\n");
}

/*
 * Parse --event values ("A|B") into mask. Returns 0 or -1.
 */
static int
events_parse(const char *s, int32_t *mask)
{
	char	*copy, *tok, *save = NULL;
	int32_t	 ev;
	int	 rc = 0;

	if ((copy = strdup(s)) == NULL)
		return -1;
	for (tok = strtok_r(copy, "|, ", &save); tok != NULL;
	    tok = strtok_r(NULL, "|, ", &save)) {
		if ((ev = exit_event_from_name(tok)) == 0) {
			fprintf(stderr, "certmint: unknown event \"%s\"\n", tok);
			rc = -1;
			break;
		}
		*mask |= ev;
	}
	free(copy);
	return rc;
}

static int
remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path) == -1 ? -1 : 0;
}

/* Remove dir and everything the throwaway CA and the module wrote in it. */
static void
sandbox_remove(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
cmd_exit_test(const char *config_path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "event", required_argument, NULL, 'e' },
		{ "request", required_argument, NULL, 'r' },
		{ "attrib", required_argument, NULL, 'a' },
		{ "set", required_argument, NULL, 's' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct exit_test_opts o;
	struct db_attr	*attrs = NULL;
	char		**settings = NULL, dir[4096], err[1024], *colon;
	unsigned char	*csr = NULL;
	size_t		 csrlen = 0, nattrs = 0, nsettings = 0;
	int		 ch, keep = 0, rc = 1;
	int32_t		 events = 0;

	memset(&o, 0, sizeof(o));
	optind = 0;	/* full getopt reset: main used "+" ordering */
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			if (events_parse(optarg, &events) == -1)
				goto usage;
			break;
		case 'r':
			free(csr);
			if (file_read(optarg, &csr, &csrlen, 1 << 20) == -1) {
				fprintf(stderr, "certmint: %s: cannot read the "
				    "request\n", optarg);
				goto out;
			}
			break;
		case 'a':
			if ((colon = strchr(optarg, ':')) == NULL ||
			    colon == optarg) {
				fprintf(stderr, "certmint: --attrib \"%s\": "
				    "expected NAME:VALUE\n", optarg);
				goto usage;
			}
			attrs = reallocarray(attrs, nattrs + 1, sizeof(*attrs));
			if (attrs == NULL)
				goto out;
			*colon = '\0';
			attrs[nattrs].name = optarg;
			attrs[nattrs].value = colon + 1;
			nattrs++;
			break;
		case 's':
			settings = reallocarray(settings, nsettings + 1,
			    sizeof(*settings));
			if (settings == NULL)
				goto out;
			settings[nsettings++] = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		case 'h':
			exit_test_usage(stdout);
			rc = 0;
			goto out;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1)
		goto usage;

	snprintf(dir, sizeof(dir), "%s/certmint-exit-test.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "certmint: cannot create a directory in %s\n",
		    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		goto out;
	}
	o.module_path = argv[optind];
	o.events = events;
	o.csr = csr;
	o.csr_len = csrlen;
	o.attrs = attrs;
	o.nattrs = nattrs;
	o.settings = settings;
	o.nsettings = nsettings;
	o.dir = dir;
	o.out = stdout;
	rc = exit_test_run(&o, err, sizeof(err));
	fflush(stdout);
	if (rc == -1) {
		fprintf(stderr, "certmint: %s\n", err);
		rc = 1;
	}
	if (keep)
		printf("the test CA is kept in %s\n", dir);
	else
		sandbox_remove(dir);
	goto out;
usage:
	exit_test_usage(stderr);
	rc = 2;
out:
	free(attrs);	/* names and values point into argv */
	free(settings);
	free(csr);
	return rc;
}
