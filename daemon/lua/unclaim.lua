-- unclaim: give back the jobs of claims whose reply was lost (docs/keys.md).
--
-- A claim sent just before a disconnect may have run in Redis while its
-- reply never arrived: its jobs sit in active under lease tokens nobody
-- holds. Rather than wait a whole lease for the reaper, the daemon that
-- sent the claim calls this after it reconnects, with the nonces of its
-- lost claims. The lease remains the guarantee when this call is lost too.
--
-- A lost claim may also not have run yet (a hung Redis still holds it in
-- the old connection's buffer, and may run it after this script): so each
-- nonce is also marked with the key P..'unclaimed:'..nonce for a lease,
-- and the claim script claims nothing under a marked nonce.
--
-- KEYS[1] active zset
-- KEYS[2] delayed zset
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] min score: only active members scored at least this are looked
--         at (the lost claim's Redis time plus the lease, less a margin)
-- ARGV[3] lease_ms: how long the unclaimed marks live
-- ARGV[4] wake channel ("" = no publish)
-- ARGV[5] events channel ("" = none): "retry" {queue, id, handler, attempt,
--         delay_ms 0, error, refunded true} per job given back
-- ARGV[6..] nonces of lost claims (a job claimed by one has the lease
--         token nonce..'-'..k)
--
-- Each such job leaves active, loses its lease field, gets its attempt back
-- (it never ran) and returns to delayed at its due_ms (now if unreadable),
-- so it is claimed again at once. Reply: the number of jobs given back.

local active, delayed = KEYS[1], KEYS[2]
local P, min_score, lease_ms = ARGV[1], arg_uint(2), arg_uint(3)
local wake, events = ARGV[4], ARGV[5]
local Q = queue_of(delayed)
local WHY = 'claim reply lost to a disconnect'

local lost = {}
for i = 6, #ARGV do
	lost[ARGV[i]] = true
	redis.call('SET', P .. 'unclaimed:' .. ARGV[i], '1', 'PX',
	    istr(lease_ms > 0 and lease_ms or 1))
end

-- Whether the lease token was issued by one of the lost claims.
local function lost_claim(token)
	if not token then
		return false
	end
	local nonce = string.match(token, '^(.*)%-%d+$')
	return nonce ~= nil and lost[nonce] == true
end

local now = now_ms()
local given, first_due = 0, nil

-- Job id (its attempt n given back, not leased any more) into delayed at
-- due, with its event.
local function give_back(id, due, handler, n)
	redis.call('ZADD', delayed, istr(due), id)
	given = given + 1
	if first_due == nil or due < first_due then
		first_due = due
	end
	emit(events, 'retry', now, 'queue', Q, 'id', id, 'handler', handler,
	    'attempt', n, 'delay_ms', 0, 'error', WHY, 'refunded', true)
end

local ids = redis.call('ZRANGEBYSCORE', active, istr(min_score), '+inf')
for _, id in ipairs(ids) do
	local jk = P .. 'job:' .. id
	local body = pk_get(P, id)
	local rec = body and pk_decode(body)
	if rec and lost_claim(rec.lease) then
		redis.call('ZREM', active, id)
		local n = rec.attempts
		rec.lease = false
		if n > 0 then
			rec.attempts = n - 1
		end
		local due = uint(rec_get(rec, 'due_ms')) or now
		pk_write(P, id, rec)
		give_back(id, due, rec.handler, n)
	elseif not body and key_type(jk) == 'hash' and
	    lost_claim(hget_safe(jk, 'lease')) then
		redis.call('ZREM', active, id)
		redis.call('HDEL', jk, 'lease')
		local n = attempt_of(jk)
		if n > 0 then
			redis.call('HINCRBY', jk, 'attempts', -1)
		end
		give_back(id, uint(hget_safe(jk, 'due_ms')) or now,
		    hget_safe(jk, 'handler') or nil, n)
	end
end
if given > 0 and wake ~= nil and wake ~= '' then
	redis.call('PUBLISH', wake, istr(first_due))
end
return given
