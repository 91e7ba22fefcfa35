-- Prototype, measured by bench/packed_cost.py; not deferd's code. The claim
-- of packed jobs whose body carries the lease: a job is a field of
-- P..'packed' (ID -> "J1 ATTEMPTS LEASE HANDLER\n\nPAYLOAD"), the active
-- member stays the ID. The claim rewrites the claimed bodies (attempt + 1,
-- the new lease) with one HSET. Only the happy path, as packed_claim.lua.
local delayed, active = KEYS[1], KEYS[2]
local P, limit, lease_ms, nonce = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ids = redis.call('ZRANGEBYSCORE', delayed, '-inf', string.format('%d', now), 'LIMIT', 0, limit)
if #ids == 0 then return {now} end
local jobs = P .. 'packed'
local bodies = redis.call('HMGET', jobs, unpack(ids))
local deadline = string.format('%d', now + lease_ms)
local za, hs, reply = {}, {}, {now}
for i, id in ipairs(ids) do
	local b = bodies[i]
	local att, h, rest = string.match(b, '^J1 (%d+) %S+ ([^\n]*)()')
	local token = nonce .. '-' .. i
	local nb = 'J1 ' .. (tonumber(att) + 1) .. ' ' .. token .. ' ' .. h .. string.sub(b, rest)
	hs[#hs + 1] = id; hs[#hs + 1] = nb
	za[#za + 1] = deadline; za[#za + 1] = id
	reply[#reply + 1] = {id, token, nb}
end
redis.call('HSET', jobs, unpack(hs))
redis.call('ZREM', delayed, unpack(ids))
redis.call('ZADD', active, unpack(za))
return reply
