/* SPDX-License-Identifier: MIT */
/*
 * The metrics registry and the Prometheus text exposition (format 0.0.4);
 * deferd's own families and hooks are in metrics_deferd.c. One registry per
 * process, used only from the event loop's thread. A family holds its
 * series in insertion order and in an open-addressing hash keyed by the
 * label values, so a hook costs one lookup. Histograms keep per-bucket
 * counts and make them cumulative only when rendered. Not responsible for
 * HTTP (metrics_http.c).
 */
#include <event2/buffer.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "xmalloc.h"

struct mseries {
	char		**values;
	char		 *labels;	/* k1="v1",k2="v2", escaped; "" without labels */
	uint64_t	  hash;
	double		  value;	/* counter, gauge */
	uint64_t	 *buckets;	/* histogram: per bucket, not cumulative; +Inf last */
	double		  sum;
	uint64_t	  count;
};

struct mfamily {
	struct mfamily	 *next;
	enum mtype	  type;
	char		 *name, *help;
	size_t		  nlabels;
	char		**labels;
	double		 *bounds;
	char		**le;		/* the bounds as le values, "+Inf" last */
	size_t		  nbounds;
	struct mseries	**list;		/* insertion order */
	size_t		  n;
	struct mseries	**tab;		/* hash; size a power of two */
	size_t		  tabsize;
};

static struct mfamily	*families, **families_tail = &families;

static void	 metrics_format_float(char *, size_t, double);
static char	*metrics_label_text(const struct mfamily *, char *const *);


/* FNV-1a over the label values, each ended by 0xff. */
static uint64_t
metrics_hash(size_t n, const char *const *values)
{
	uint64_t	h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)values[i];
		    *p != '\0'; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return (h);
}

struct mfamily *
metrics_family(enum mtype type, const char *name, const char *help,
    size_t nlabels, const char *const *labels, const double *bounds,
    size_t nbounds)
{
	struct mfamily	*f = xcalloc(1, sizeof(*f));

	f->type = type;
	f->name = xstrdup(name);
	f->help = xstrdup(help);
	f->nlabels = nlabels;
	f->labels = xcalloc(nlabels + 1, sizeof(*f->labels));
	for (size_t i = 0; i < nlabels; i++)
		f->labels[i] = xstrdup(labels[i]);
	if (type == MTYPE_HISTOGRAM) {
		f->nbounds = nbounds;
		f->bounds = xcalloc(nbounds + 1, sizeof(*f->bounds));
		memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
		f->le = xcalloc(nbounds + 1, sizeof(*f->le));
		for (size_t i = 0; i < nbounds; i++) {
			char num[40];

			metrics_format_float(num, sizeof(num), bounds[i]);
			f->le[i] = xstrdup(num);
		}
		f->le[nbounds] = xstrdup("+Inf");
	}
	*families_tail = f;
	families_tail = &f->next;
	return (f);
}

/* Put s into f's hash table (which has room). */
static void
metrics_tab_insert(struct mfamily *f, struct mseries *s)
{
	size_t	i = s->hash & (f->tabsize - 1);

	while (f->tab[i] != NULL)
		i = (i + 1) & (f->tabsize - 1);
	f->tab[i] = s;
}

/* The series of f with these label values, created when absent. */
static struct mseries *
metrics_series(struct mfamily *f, const char *const *values)
{
	uint64_t	 h = metrics_hash(f->nlabels, values);
	struct mseries	*s;
	size_t		 i;

	for (i = f->tabsize ? h & (f->tabsize - 1) : 0;
	    f->tabsize > 0 && (s = f->tab[i]) != NULL;
	    i = (i + 1) & (f->tabsize - 1)) {
		size_t k;

		if (s->hash != h)
			continue;
		for (k = 0; k < f->nlabels && strcmp(s->values[k], values[k]) == 0; k++)
			;
		if (k == f->nlabels)
			return (s);
	}
	s = xcalloc(1, sizeof(*s));
	s->hash = h;
	s->values = xcalloc(f->nlabels + 1, sizeof(*s->values));
	for (size_t k = 0; k < f->nlabels; k++)
		s->values[k] = xstrdup(values[k]);
	s->labels = metrics_label_text(f, s->values);
	if (f->type == MTYPE_HISTOGRAM)
		s->buckets = xcalloc(f->nbounds + 1, sizeof(*s->buckets));
	f->list = xreallocarray(f->list, f->n + 1, sizeof(*f->list));
	f->list[f->n++] = s;
	if (2 * f->n > f->tabsize) {
		f->tabsize = f->tabsize == 0 ? 16 : f->tabsize * 2;
		free(f->tab);
		f->tab = xcalloc(f->tabsize, sizeof(*f->tab));
		for (size_t k = 0; k < f->n; k++)
			metrics_tab_insert(f, f->list[k]);
	} else
		metrics_tab_insert(f, s);
	return (s);
}

void
metrics_add(struct mfamily *f, const char *const *values, double v)
{
	if (f != NULL)
		metrics_series(f, values)->value += v;
}

void
metrics_set(struct mfamily *f, const char *const *values, double v)
{
	if (f != NULL)
		metrics_series(f, values)->value = v;
}

void
metrics_observe(struct mfamily *f, const char *const *values, double v)
{
	struct mseries	*s;
	size_t		 b;

	if (f == NULL)
		return;
	s = metrics_series(f, values);
	for (b = 0; b < f->nbounds && v > f->bounds[b]; b++)
		;
	s->buckets[b]++;
	s->sum += v;
	s->count++;
}

double
metrics_value(struct mfamily *f, const char *const *values)
{
	struct mseries	*s;

	if (f == NULL)
		return (0);
	s = metrics_series(f, values);
	return (f->type == MTYPE_HISTOGRAM ? (double)s->count : s->value);
}

/* The shortest %g form of v that reads back as v. */
static void
metrics_format_float(char *buf, size_t len, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* A growing text buffer: the exposition is built here, then added at once. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

/* Append n bytes. */
static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		while (b->len + n > b->cap)
			b->cap = b->cap ? b->cap * 2 : 16384;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Append a NUL-terminated string. */
static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Append an unsigned integer in decimal. */
static void
sb_u64(struct sbuf *b, uint64_t v)
{
	char	d[24];
	size_t	i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	sb_add(b, d + i, sizeof(d) - i);
}

/* Append v in the exposition's float syntax. */
static void
sb_number(struct sbuf *b, double v)
{
	char	num[40];

	if (isnan(v))
		sb_str(b, "NaN");
	else if (isinf(v))
		sb_str(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && v >= 0 && v < 9007199254740992.0)
		sb_u64(b, (uint64_t)v);
	else {
		metrics_format_float(num, sizeof(num), v);
		sb_str(b, num);
	}
}

/* Append text with the escapes of HELP (\\ and \n) or of a label value (also "). */
static void
sb_escaped(struct sbuf *b, const char *s, bool label)
{
	const char	*run = s;

	for (; *s != '\0'; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" :
		    (label && *s == '"') ? "\\\"" : NULL;

		if (esc == NULL)
			continue;
		sb_add(b, run, (size_t)(s - run));
		sb_add(b, esc, 2);
		run = s + 1;
	}
	sb_add(b, run, (size_t)(s - run));
}

/* The label pairs of s, escaped, without braces: k1="v1",k2="v2" (new string). */
static char *
metrics_label_text(const struct mfamily *f, char *const *values)
{
	struct sbuf	b = { NULL, 0, 0 };

	for (size_t i = 0; i < f->nlabels; i++) {
		if (i > 0)
			sb_add(&b, ",", 1);
		sb_str(&b, f->labels[i]);
		sb_add(&b, "=\"", 2);
		sb_escaped(&b, values[i], true);
		sb_add(&b, "\"", 1);
	}
	sb_add(&b, "", 1);
	return (b.p);
}

/* name, {labels[,le="x"]} (nothing when both are empty), and a space. */
static void
sb_series(struct sbuf *b, const char *name, const char *suffix,
    const struct mseries *s, const char *le)
{
	sb_str(b, name);
	sb_str(b, suffix);
	if (s->labels[0] != '\0' || le != NULL) {
		sb_add(b, "{", 1);
		sb_str(b, s->labels);
		if (le != NULL) {
			sb_str(b, s->labels[0] != '\0' ? ",le=\"" : "le=\"");
			sb_str(b, le);
			sb_add(b, "\"", 1);
		}
		sb_add(b, "}", 1);
	}
	sb_add(b, " ", 1);
}

/* Append the _bucket, _sum and _count lines of one histogram series. */
static void
sb_histogram(struct sbuf *b, const struct mfamily *f, const struct mseries *s)
{
	uint64_t	cum = 0;

	for (size_t i = 0; i <= f->nbounds; i++) {
		cum += s->buckets[i];
		sb_series(b, f->name, "_bucket", s, f->le[i]);
		sb_u64(b, cum);
		sb_add(b, "\n", 1);
	}
	sb_series(b, f->name, "_sum", s, NULL);
	sb_number(b, s->sum);
	sb_add(b, "\n", 1);
	sb_series(b, f->name, "_count", s, NULL);
	sb_u64(b, s->count);
	sb_add(b, "\n", 1);
}

void
metrics_render(struct evbuffer *out)
{
	static const char	*types[] = { "counter", "gauge", "histogram" };
	struct sbuf		 b = { NULL, 0, 0 };

	for (struct mfamily *f = families; f != NULL; f = f->next) {
		sb_str(&b, "# HELP ");
		sb_str(&b, f->name);
		sb_add(&b, " ", 1);
		sb_escaped(&b, f->help, false);
		sb_str(&b, "\n# TYPE ");
		sb_str(&b, f->name);
		sb_add(&b, " ", 1);
		sb_str(&b, types[f->type]);
		sb_add(&b, "\n", 1);
		for (size_t i = 0; i < f->n; i++) {
			const struct mseries *s = f->list[i];

			if (f->type == MTYPE_HISTOGRAM) {
				sb_histogram(&b, f, s);
				continue;
			}
			sb_series(&b, f->name, "", s, NULL);
			sb_number(&b, s->value);
			sb_add(&b, "\n", 1);
		}
	}
	evbuffer_add(out, b.p, b.len);
	free(b.p);
}

/* Free one family and its series. */
static void
metrics_family_free(struct mfamily *f)
{
	for (size_t i = 0; i < f->n; i++) {
		for (size_t k = 0; k < f->nlabels; k++)
			free(f->list[i]->values[k]);
		free(f->list[i]->values);
		free(f->list[i]->labels);
		free(f->list[i]->buckets);
		free(f->list[i]);
	}
	for (size_t k = 0; k < f->nlabels; k++)
		free(f->labels[k]);
	free(f->labels);
	free(f->list);
	free(f->tab);
	for (size_t k = 0; f->le != NULL && k <= f->nbounds; k++)
		free(f->le[k]);
	free(f->le);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void
metrics_reset(void)
{
	struct mfamily	*f, *next;

	for (f = families; f != NULL; f = next) {
		next = f->next;
		metrics_family_free(f);
	}
	families = NULL;
	families_tail = &families;
}
