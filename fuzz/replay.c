/* SPDX-License-Identifier: MIT */
/*
 * A main for the fuzz targets when they are built without libFuzzer (any
 * C compiler, with or without sanitizers): it runs LLVMFuzzerTestOneInput
 * once on the empty input and once on every file given, or on every file
 * of the directories given (not recursively, dot files skipped). Each
 * input is read into a buffer of exactly its size, so that ASan sees a
 * read past its end.
 *
 * With no arguments a binary named replay_NAME replays its seed corpus,
 * $DEFERD_SRC/fuzz/corpus/NAME (DEFERD_SRC defaults to "."), which is how
 * make check runs it. It fails if a corpus holds no file, so that a wrong
 * path cannot pass for a clean run. A crash, a failed check or a
 * sanitizer report ends the process with a non-zero status.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#define REPLAY_PREFIX	"replay_"

/* Present only when a sanitizer runtime is linked in. */
extern void	__sanitizer_set_death_callback(void (*)(void))
		    __attribute__((weak));

static const char *replay_current = "(the empty input)";

static int	replay_file(const char *path);
static int	replay_dir(const char *path, size_t *count);
static int	replay_path(const char *path, size_t *count);

/* Say which input was running when the process dies (sanitizer report or signal). */
static void
replay_blame(void)
{
	const char	*msg = "replay: the input that failed: ";

	if (write(STDERR_FILENO, msg, strlen(msg)) == -1 ||
	    write(STDERR_FILENO, replay_current, strlen(replay_current)) == -1 ||
	    write(STDERR_FILENO, "\n", 1) == -1)
		return;
}

/* A fatal signal: name the input, then die of the signal as before. */
static void
replay_signal(int sig)
{
	replay_blame();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Read path and run the target on its bytes; 0, or -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	FILE		*f;
	uint8_t		*buf = NULL;
	size_t		 len = 0, cap = 0, n;
	void		*exact;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	do {
		if (len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(f);
		free(buf);
		return (-1);
	}
	fclose(f);
	exact = fuzz_memdup(buf, len);
	free(buf);
	replay_current = path;
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return (0);
}

/* Run every regular file of directory path, in name order. */
static int
replay_dir(const char *path, size_t *count)
{
	struct dirent	**names;
	char		 *file;
	int		  n, rc = 0;

	if ((n = scandir(path, &names, NULL, alphasort)) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	for (int i = 0; i < n; i++) {
		struct stat	st;

		if (names[i]->d_name[0] != '.' &&
		    asprintf(&file, "%s/%s", path, names[i]->d_name) != -1) {
			if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
				if (replay_file(file) == -1)
					rc = -1;
				else
					(*count)++;
			}
			free(file);
		}
		free(names[i]);
	}
	free(names);
	return (rc);
}

/* Run a file, or the files of a directory. */
static int
replay_path(const char *path, size_t *count)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	if (S_ISDIR(st.st_mode))
		return (replay_dir(path, count));
	if (replay_file(path) == -1)
		return (-1);
	(*count)++;
	return (0);
}

/* Replay the paths given, or the default corpus (see the top of the file). */
int
main(int argc, char **argv)
{
	const char	*self, *src;
	char		*dflt = NULL;
	size_t		 count = 0;
	int		 rc = 0;
	struct timespec	 t0, t1;

	self = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
	if (argc < 2) {
		if (strncmp(self, REPLAY_PREFIX, strlen(REPLAY_PREFIX)) != 0) {
			fprintf(stderr, "usage: %s FILE|DIR...\n", self);
			return (2);
		}
		if ((src = getenv("DEFERD_SRC")) == NULL || *src == '\0')
			src = ".";
		if (asprintf(&dflt, "%s/fuzz/corpus/%s", src,
		    self + strlen(REPLAY_PREFIX)) == -1)
			abort();
	}
	if (__sanitizer_set_death_callback != NULL)
		__sanitizer_set_death_callback(replay_blame);
	signal(SIGABRT, replay_signal);
	signal(SIGSEGV, replay_signal);
	signal(SIGBUS, replay_signal);
	signal(SIGFPE, replay_signal);
	signal(SIGILL, replay_signal);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	if (dflt != NULL)
		rc = replay_path(dflt, &count);
	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) == -1)
			rc = -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 0 && count == 0) {
		fprintf(stderr, "%s: no inputs found in %s\n", self,
		    dflt != NULL ? dflt : "the paths given");
		rc = -1;
	}
	printf("%s: %zu inputs in %.3fs: %s\n", self, count,
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	    rc == 0 ? "ok" : "FAILED");
	free(dflt);
	return (rc == 0 ? 0 : 1);
}
