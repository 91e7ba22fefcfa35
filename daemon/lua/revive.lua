-- revive: move a dead job back to delayed, due now (deferctl retry).
--
-- KEYS[1] dead zset
-- KEYS[2] delayed zset
-- KEYS[3] job hash P..'job:'..ID
-- ARGV[1] job ID
-- ARGV[2] wake channel ("" = no publish)
-- ARGV[3] events channel ("" or absent = none): "revived" {queue, id,
--         handler} (deferctl retry)
--
-- Reply: 1 when revived (ZREM dead, HSET due_ms now, HDEL attempts,
-- died_ms and lease, ZADD delayed now, PUBLISH wake if now first);
-- 0 when the ID is not in dead; -1 when it is in dead but its job key is
-- missing or not a hash (nothing changed: purge it instead).

local dead, delayed, jk = KEYS[1], KEYS[2], KEYS[3]
local id, wake, events = ARGV[1], ARGV[2], ARGV[3]

if not redis.call('ZSCORE', dead, id) then
	return 0
end
if key_type(jk) ~= 'hash' then
	return -1
end
local now = now_ms()
redis.call('ZREM', dead, id)
redis.call('HSET', jk, 'due_ms', istr(now))
redis.call('HDEL', jk, 'attempts', 'died_ms', 'lease')
redis.call('ZADD', delayed, istr(now), id)
publish_wake_if_first(delayed, id, now, wake)
emit(events, 'revived', now, 'queue', queue_of(delayed), 'id', id,
    'handler', hget_safe(jk, 'handler') or nil)
return 1
