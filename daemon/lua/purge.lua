-- purge: delete dead jobs (deferctl purge).
--
-- KEYS[1] dead zset
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] job ID, or "" for all
--
-- With an ID: remove it from dead and delete its job (packed or its
-- hash); reply 1, or 0 if it was not in dead (then nothing is deleted).
-- With "": remove at most 1000 of the oldest entries and their jobs;
-- reply the number removed (the caller loops until 0).
-- Only hashes are deleted: a job key of another type is left alone.

local dead, P, id = KEYS[1], ARGV[1], ARGV[2]

if id ~= nil and id ~= '' then
	if redis.call('ZREM', dead, id) == 0 then
		return 0
	end
	job_delete(P, id)
	return 1
end
local ids = redis.call('ZRANGE', dead, 0, 999)
for _, m in ipairs(ids) do
	drop_dead(P, dead, m)
end
return #ids
