-- Prototype, measured by bench/packed_cost.py; not deferd's code. The claim
-- of packed jobs: a job is a field of P..'packed' (ID -> "handler\npayload"),
-- its lease token rides in the active member ("ID|token"). Only the happy
-- path: no bad-data checks, caps, reaping, events or attempt counting (a
-- real one would keep attempts in the body, rewritten on retry only).
local delayed, active = KEYS[1], KEYS[2]
local P, limit, lease_ms, nonce = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ids = redis.call('ZRANGEBYSCORE', delayed, '-inf', string.format('%d', now), 'LIMIT', 0, limit)
if #ids == 0 then return {now} end
local bodies = redis.call('HMGET', P .. 'packed', unpack(ids))
local deadline = string.format('%d', now + lease_ms)
local za, reply = {}, {now}
for i, id in ipairs(ids) do
	local b = bodies[i]
	local nl = string.find(b, '\n', 1, true)
	local h = string.sub(b, 1, nl - 1)
	local token = nonce .. '-' .. i
	za[#za + 1] = deadline; za[#za + 1] = id .. '|' .. token
	reply[#reply + 1] = {id, token, b, h}
end
redis.call('ZREM', delayed, unpack(ids))
redis.call('ZADD', active, unpack(za))
return reply
