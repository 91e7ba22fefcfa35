-- listtake: turn list items into jobs (the list source, docs/architecture.md).
-- The daemon takes one item at a time with BLMOVE main -> its own
-- processing list, then calls this: every item in the processing list
-- (normally the one just moved; after a lost reply or a restart, all that
-- are left) and up to `batch` more from the head of the main list become
-- jobs, in one atomic step, so an item is always in exactly one of: the
-- main list, a processing list, a job.
--
-- KEYS[1] this daemon's processing list
-- KEYS[2] the main list
-- KEYS[3] delayed zset of the source's queue
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] handler
-- ARGV[3] nonce: job IDs are "list:" .. nonce .. "-" .. k (k = 1, 2, ...)
-- ARGV[4] batch: items taken from the main list beyond the processing list
-- ARGV[5] wake channel ("" publishes nothing)
-- ARGV[6] events channel ("" or absent = none): "enqueued" {queue, id,
--         handler, due_ms, delay_ms 0, source "list"} per job
--
-- Jobs are due now, payload = the item, source=list, field list = KEYS[2].
-- Reply: {now_ms, jobs created}

local proc, main, delayed = KEYS[1], KEYS[2], KEYS[3]
local P, handler, nonce = ARGV[1], ARGV[2], ARGV[3]
local batch = arg_uint(4)
local wake, events = ARGV[5], ARGV[6]
local now = now_ms()
local made = 0
pk_check(P)	-- before an item leaves the list

-- One job for item.
local function make(item)
	made = made + 1
	local id = 'list:' .. nonce .. '-' .. istr(made)
	redis.call('HSET', P .. 'jobs', id, pk_head(handler, {'enqueued_ms',
	    istr(now), 'due_ms', istr(now), 'source', 'list', 'list', main}) ..
	    item)
	redis.call('ZADD', delayed, istr(now), id)
	emit(events, 'enqueued', now, 'queue', queue_of(P), 'id', id,
	    'handler', handler, 'due_ms', now, 'delay_ms', 0, 'source', 'list')
end

while true do
	local item = redis.call('LPOP', proc)
	if not item then
		break
	end
	make(item)
end
for _ = 1, batch do
	local item = redis.call('LPOP', main)
	if not item then
		break
	end
	make(item)
end
if made > 0 and wake ~= '' then
	redis.call('PUBLISH', wake, istr(now))
end
return {now, made}
