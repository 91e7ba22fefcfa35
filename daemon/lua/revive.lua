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
-- Reply: 1 when revived (ZREM dead, due_ms now, no attempts, died_ms or
-- lease: in the packed body, else in the hash; ZADD delayed now, PUBLISH
-- wake if now first); 0 when the ID is not in dead; -1 when it is in dead
-- but its job is missing, not a hash or a malformed body (nothing
-- changed: purge it instead).

local dead, delayed, jk = KEYS[1], KEYS[2], KEYS[3]
local id, wake, events = ARGV[1], ARGV[2], ARGV[3]

if not redis.call('ZSCORE', dead, id) then
	return 0
end
local P = prefix_of(jk, id)
local body = pk_get(P, id)
local rec = body and pk_decode(body)
if (body and not rec) or (not body and key_type(jk) ~= 'hash') then
	return -1
end
local now = now_ms()
redis.call('ZREM', dead, id)
if rec then
	rec.attempts, rec.lease = 0, false
	rec_set(rec, 'died_ms', nil)
	rec_set(rec, 'due_ms', istr(now))
	pk_write(P, id, rec)
else
	redis.call('HSET', jk, 'due_ms', istr(now))
	redis.call('HDEL', jk, 'attempts', 'died_ms', 'lease')
end
redis.call('ZADD', delayed, istr(now), id)
publish_wake_if_first(delayed, id, now, wake)
emit(events, 'revived', now, 'queue', queue_of(delayed), 'id', id,
    'handler', rec and rec.handler or hget_safe(jk, 'handler') or nil)
return 1
