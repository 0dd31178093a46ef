/*
 * broken.c - modules the loader must refuse, one per build (meson.build):
 * -DBAD_ABI (ABI major + 1), -DBAD_MAGIC, -DBAD_NAME (no ".Exit"),
 * -DNO_NOTIFY (a mandatory entry point missing), -DNO_SYMBOL (no
 * cm_exit_module_entry at all), -DCRASH_CTOR (an ELF constructor that
 * segfaults: loading it kills the process that loads it), -DKILLPG_CTOR
 * (one that sends SIGTERM to its process group).
 */
#include <signal.h>
#include <stdlib.h>

#include <certmint/exit.h>

#ifdef CRASH_CTOR
/* Not a constant null: the compiler would make it a trap (SIGILL). */
static int *volatile nowhere;

static void __attribute__((constructor, no_sanitize("undefined")))
x_crash(void)
{
	*nowhere = 1;
}
#endif

#ifdef KILLPG_CTOR
static void __attribute__((constructor))
x_killpg(void)
{
	(void)kill(0, SIGTERM);
}
#endif

static int
x_init(const char *config, cm_server_exit *srv, void **state, int32_t *mask)
{
	*state = NULL;
	*mask = CM_EXITEVENT_ALL;
	return CM_OK;
}

static int __attribute__((unused))
x_notify(void *state, int32_t event, int64_t context, cm_server_exit *srv)
{
	return CM_OK;
}

static const char *
x_description(void *state)
{
	return "a module the loader refuses";
}

static const struct cm_exit desc = {
#ifdef BAD_MAGIC
	0xdeadbeefu,
#else
	CM_EXIT_MAGIC,
#endif
#ifdef BAD_ABI
	CM_ABI_MAJOR + 1,
#else
	CM_ABI_MAJOR,
#endif
	CM_ABI_MINOR, sizeof(struct cm_exit),
#ifdef BAD_NAME
	"NoSuffix",
#else
	"Broken.Exit",
#endif
	CM_THREADING_SERIAL,
	x_init,
#ifdef NO_NOTIFY
	NULL,
#else
	x_notify,
#endif
	x_description, NULL, NULL
};

#ifdef NO_SYMBOL
const struct cm_exit *some_other_entry(void);
const struct cm_exit *
some_other_entry(void)
{
	return &desc;
}
#else
CM_EXIT_MODULE(desc)
#endif
