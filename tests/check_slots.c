/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the concurrency slots (slots.c): the shared free-slot
 * formula, persistent pools outside it, claim reservations, and the
 * callbacks the owner is handed.
 */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "slots.h"
#include "harness.h"

/* What the callbacks saw. */
static struct {
	int	freed, freed_pooled, gone, gone_pooled;
	bool	held;
} cb;

static void
on_freed(void *arg, bool pooled)
{
	(void)arg;
	cb.freed++;
	cb.freed_pooled += pooled;
}

static void
on_gone(void *arg, bool pooled)
{
	(void)arg;
	cb.gone++;
	cb.gone_pooled += pooled;
}

static bool
on_held(void *arg)
{
	(void)arg;
	return (cb.held);
}

static struct slots *
new_slots(int concurrency)
{
	static const struct slots_cbs cbs = { on_freed, on_gone, on_held, NULL };

	memset(&cb, 0, sizeof(cb));
	return (slots_new(concurrency, &cbs));
}

/* Exec jobs fill concurrency; a reporting job gives its slot back. */
START_TEST(shared_slots)
{
	struct slots	*s = new_slots(4);

	ck_assert_int_eq(slots_free(s), 4);
	slots_claim_begin(s, 4);
	ck_assert_int_eq(slots_free(s), 0);
	slots_claim_end(s, 4);
	for (int i = 0; i < 4; i++)
		slots_job_add(s, false);
	ck_assert_int_eq(slots_free(s), 0);
	slots_job_reporting(s, false);
	ck_assert_int_eq(cb.freed, 1);
	ck_assert_int_eq(cb.freed_pooled, 0);
	ck_assert_int_eq(slots_free(s), 1);
	/* At most twice the concurrency is held: 4 more would be 8. */
	for (int i = 0; i < 4; i++)
		slots_job_add(s, false);
	ck_assert_int_eq(slots_free(s), 0);
	slots_job_remove(s, false, true);
	ck_assert_int_eq(cb.gone, 1);
	ck_assert_int_eq(slots_jobs(s), 7);
	cb.held = true;
	slots_job_remove(s, false, false);
	ck_assert_int_eq(slots_free(s), 0);	/* held: nothing */
	slots_free_all(s);
}
END_TEST

/* Pool jobs take no shared slot; their room is the pool's. */
START_TEST(pool_room_is_apart)
{
	struct slots	*s = new_slots(2);

	ck_assert_int_eq(slots_pool_free(s, "po", 10), 10);
	slots_pool_claim_begin(s, "po", 6);
	ck_assert_int_eq(slots_pool_free(s, "po", 10), 4);
	ck_assert_int_eq(slots_pool_free(s, "other", 10), 10);
	slots_pool_claim_end(s, "po", 6);
	for (int i = 0; i < 6; i++) {
		slots_job_add(s, true);
		slots_handler_start(s, "po");
	}
	ck_assert_int_eq(slots_free(s), 2);	/* shared untouched */
	ck_assert_int_eq(slots_pool_free(s, "po", 10), 4);
	ck_assert_int_eq(slots_jobs(s), 6);
	/* A lower cap (a reload) leaves no room, never less than none. */
	ck_assert_int_eq(slots_pool_free(s, "po", 3), 0);
	slots_handler_stop(s, "po");
	slots_job_reporting(s, true);
	ck_assert_int_eq(cb.freed_pooled, 1);
	ck_assert_int_eq(slots_pool_free(s, "po", 10), 5);
	slots_job_remove(s, true, true);
	ck_assert_int_eq(cb.gone_pooled, 1);
	ck_assert_int_eq(slots_jobs(s), 5);
	ck_assert_int_eq(slots_free(s), 2);
	cb.held = true;
	ck_assert_int_eq(slots_pool_free(s, "po", 10), 0);
	slots_free_all(s);
}
END_TEST

/* A handler's entry goes only when nothing runs, waits or is reserved. */
START_TEST(entries_outlive_reservations)
{
	struct slots	*s = new_slots(2);

	slots_handler_start(s, "po");
	slots_pool_claim_begin(s, "po", 3);
	slots_handler_stop(s, "po");
	ck_assert_int_eq(slots_pool_free(s, "po", 5), 2);	/* reserved kept */
	slots_pool_claim_end(s, "po", 3);
	ck_assert_int_eq(slots_pool_free(s, "po", 5), 5);
	ck_assert_int_eq(slots_handler_running(s, "po"), 0);
	slots_handler_stop(s, "po");	/* unknown now: a no-op */
	slots_pool_claim_end(s, "po", 1);
	ck_assert_int_eq(slots_pool_free(s, "po", 5), 5);
	/* Jobs waiting to start hold pool room until they start or leave. */
	ck_assert_int_eq(slots_handlers_waiting(s), 0);
	slots_handler_wait(s, "po");
	slots_handler_wait(s, "po");
	slots_handler_wait(s, "other");
	ck_assert_int_eq(slots_pool_free(s, "po", 5), 3);
	ck_assert_int_eq(slots_handlers_waiting(s), 2);
	slots_handler_unwait(s, "other");
	ck_assert_int_eq(slots_handlers_waiting(s), 1);
	slots_handler_unwait(s, "po");
	slots_handler_start(s, "po");
	ck_assert_int_eq(slots_pool_free(s, "po", 5), 3);
	ck_assert_int_eq(slots_handler_running(s, "po"), 1);
	slots_handler_stop(s, "po");
	slots_handler_unwait(s, "po");
	ck_assert_int_eq(slots_pool_free(s, "po", 5), 5);
	slots_handler_unwait(s, "po");	/* unknown now: a no-op */
	ck_assert_int_eq(slots_pool_free(s, "po", 5), 5);
	slots_free_all(s);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("slots");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, shared_slots);
	tcase_add_test(tc, pool_room_is_apart);
	tcase_add_test(tc, entries_outlive_reservations);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
