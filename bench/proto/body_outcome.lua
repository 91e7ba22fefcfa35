-- Prototype, measured by bench/packed_cost.py; not deferd's code. Complete
-- packed jobs whose body carries the lease (see body_claim.lua): one HMGET
-- reads every lease. ARGV P, result ttl_ms, history max, then per job ID,
-- token, result, history record.
local active = KEYS[1]
local P, ttl, hist_max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local nows = string.format('%d', now)
local ids = {}
for i = 4, #ARGV, 4 do
	ids[#ids + 1] = ARGV[i]
end
local jobs = P .. 'packed'
local bodies = redis.call('HMGET', jobs, unpack(ids))
local gone, out, z, recs = {}, {}, {}, {}
for k, id in ipairs(ids) do
	local i = 4 + (k - 1) * 4
	local b = bodies[k]
	if b and string.match(b, '^J1 %d+ (%S+)') == ARGV[i + 1] then
		gone[#gone + 1] = id
		if ttl > 0 then
			redis.call('SET', P .. 'result:' .. id, ARGV[i + 2], 'PX', ARGV[2])
		end
		if hist_max > 0 then
			z[#z + 1] = nows; z[#z + 1] = id
			recs[#recs + 1] = id
			recs[#recs + 1] = string.sub(ARGV[i + 3], 1, -2) .. ',"finished_ms":' .. nows .. '}'
		end
		out[#out + 1] = 1
	else
		out[#out + 1] = 0
	end
end
if #gone > 0 then
	redis.call('ZREM', active, unpack(gone))
	redis.call('HDEL', jobs, unpack(gone))
end
if #recs > 0 then
	redis.call('HSET', P .. 'history', unpack(recs))
	redis.call('ZADD', P .. 'done', unpack(z))
	redis.call('ZREM', P .. 'failed', unpack(ids))
	local drop = redis.call('ZCARD', P .. 'done') - hist_max
	if drop > 0 then
		local old = redis.call('ZRANGE', P .. 'done', 0, drop - 1)
		redis.call('ZREM', P .. 'done', unpack(old))
		redis.call('HDEL', P .. 'history', unpack(old))
	end
end
return out
