-- complete: record the success of a claimed job (docs/keys.md).
--
-- KEYS[1] active zset
-- KEYS[2] job hash P..'job:'..ID
-- KEYS[3] result key P..'result:'..ID
-- ARGV[1] job ID
-- ARGV[2] lease token of the claim
-- ARGV[3] result bytes (handler stdout)
-- ARGV[4] result TTL in ms; 0 = do not store the result
-- ARGV[5] events channel ("" or absent = none): "done" {queue, id,
--         handler, attempt, duration_ms}
-- ARGV[6] duration_ms of the handler run, for the event ("" = unknown)
--
-- Reply: 1 when the lease field equals the token (ZREM active, DEL job,
-- SET result PX ttl); else nothing changed and the reply is 0 when another
-- claim holds the job, 2 when none does (no hash or no lease field: it
-- was finished or requeued, maybe by this same call sent before).

local active, jk, rk = KEYS[1], KEYS[2], KEYS[3]
return complete_job(active, jk, rk, ARGV[1], ARGV[2], ARGV[3], arg_uint(4),
    ARGV[5], uint(ARGV[6]), now_ms())
