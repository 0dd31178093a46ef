/*
 * fuzz_config.c - libFuzzer target: config_load on any file. It must
 * either load or refuse with a message, never crash or leak, and what it
 * loaded must be readable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "fuzz.h"

static char	 path[64];

static void
remove_path(void)
{
	unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	 fd;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/tmp/cm-fuzz-config.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		abort();
	close(fd);
	atexit(remove_path);	/* libFuzzer ends with exit() */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cm_config cfg;
	char		 err[1024];
	FILE		*f;

	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
	if (config_load(path, &cfg, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			fuzz_fail("refused without a reason");
		return 0;
	}
	(void)config_get(&cfg, "ca", "name");
	(void)config_get(&cfg, "exit", "active");
	config_free(&cfg);
	return 0;
}
