-- retry: put a claimed job back into delayed (docs/keys.md).
--
-- KEYS[1] active zset
-- KEYS[2] delayed zset
-- KEYS[3] job hash P..'job:'..ID
-- ARGV[1] job ID
-- ARGV[2] lease token of the claim
-- ARGV[3] error text for last_error ("" keeps the old one)
-- ARGV[4] delay in ms: due_ms = now + delay
-- ARGV[5] refund: "1" gives the attempt back (HINCRBY attempts -1; for the
--         graceful-shutdown and lock-conflict requeues), "0" does not
-- ARGV[6] wake channel ("" = no publish)
-- ARGV[7] events channel ("" or absent = none): ARGV[8] (default
--         "retry"; the daemon says "lock_conflict" for a job whose
--         resource was locked) {queue, id, handler, attempt, delay_ms,
--         error, refunded, duration_ms}
-- ARGV[8] event name, "" = "retry"
-- ARGV[9] duration_ms of the handler run, for the event ("" = none)
--
-- Reply: 1 when the lease field equals the token (ZREM active, HDEL lease,
-- HSET last_error and due_ms, ZADD delayed, PUBLISH wake if now first);
-- else nothing changed: 0 when another claim holds the job, 2 when none
-- does (see complete.lua).

local active, delayed, jk = KEYS[1], KEYS[2], KEYS[3]
return retry_job(active, delayed, jk, ARGV[1], ARGV[2], ARGV[3], arg_uint(4),
    ARGV[5] == '1', ARGV[6], ARGV[7], ARGV[8] or '', uint(ARGV[9]), now_ms())
