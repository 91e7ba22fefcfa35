-- extend: push the lease deadline of running jobs (docs/keys.md).
--
-- KEYS[1] active zset
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] lease_ms: the new active score is now + lease_ms
-- ARGV[3..] pairs: job ID, lease token
--
-- Reply: an array of integers in pair order: 1 if the job's lease field
-- equals the token and the job is in active (ZADD active XX now+lease_ms),
-- else 0 (nothing changed for that job).

local active, P = KEYS[1], ARGV[1]
local lease_ms = arg_uint(2)

if (#ARGV - 2) % 2 ~= 0 then
	error('deferd: extend takes ID, token pairs')
end
local now = now_ms()
local out = {}
for i = 3, #ARGV, 2 do
	local id, token = ARGV[i], ARGV[i + 1]
	local r = 0
	local body = pk_get(P, id)
	local lease = lease_fields(P .. 'job:' .. id, body)
	if lease == token and redis.call('ZSCORE', active, id) then
		redis.call('ZADD', active, 'XX', istr(now + lease_ms), id)
		r = 1
	end
	table.insert(out, r)
end
return out
