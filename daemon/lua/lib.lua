-- Shared helpers, put before every script by tools/embed-lua.sh: of the
-- definitions below, each script gets those it uses (tools/lua-lib-for.awk).
--
-- Everything here is local: Redis refuses scripts that create globals.
-- Rules for all scripts:
--   * time is Redis time (now_ms), never the caller's clock;
--   * bad data in Redis (non-numeric fields, a job key of the wrong type)
--     never makes a script fail: it is buried or skipped with a reason;
--   * bad ARGV is a caller bug and raises an error before any write;
--   * integers passed to Redis commands go through istr(), because Lua's
--     default number format (%.14g) would turn large ones into 1e+17.
--   * Counts such as dead max_jobs and ttl_ms use 0 for "no limit".

if redis.replicate_commands then
	redis.replicate_commands()
end

-- Upper bound of dead-set entries removed by one trim (keeps scripts short).
local DEAD_TRIM_BUDGET = 100

-- Redis time in milliseconds since the epoch.
local function now_ms()
	local t = redis.call('TIME')
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An integer as a decimal string, for command arguments and messages.
local function istr(n)
	return string.format('%d', n)
end

-- s as a non-negative integer, or nil if it is not one (at most 15 digits).
local function uint(s)
	if type(s) ~= 'string' or #s == 0 or #s > 15 or
	    not string.match(s, '^%d+$') then
		return nil
	end
	return tonumber(s)
end

-- ARGV[i] as a non-negative integer; raises an error otherwise.
local function arg_uint(i)
	local v = uint(ARGV[i])
	if v == nil then
		error('deferd: ARGV[' .. i .. '] must be a non-negative integer, got ' ..
		    string.format('%q', tostring(ARGV[i])))
	end
	return v
end

-- redis.call(cmd, key, ...) over the items of list, in calls of at most
-- 1000 groups of `per` items (unpack has a limit), nothing when empty.
local function call_chunked(cmd, key, list, per)
	local step = 1000 * per
	for i = 1, #list, step do
		redis.call(cmd, key, unpack(list, i, math.min(i + step - 1, #list)))
	end
end

-- The type of key k: 'none', 'hash', 'string', ...
local function key_type(k)
	local t = redis.call('TYPE', k)
	if type(t) == 'table' then
		return t.ok or t['ok']
	end
	return t
end

-- HGET that returns false instead of failing on a key of the wrong type.
local function hget_safe(k, f)
	local v = redis.pcall('HGET', k, f)
	if type(v) ~= 'string' then
		return false
	end
	return v
end

-- DEL k, but only if it is a hash: never delete a foreign key type.
local function del_if_hash(k)
	if key_type(k) == 'hash' then
		redis.call('DEL', k)
		return true
	end
	return false
end

-- Whether id follows the job ID rules of docs/keys.md: 1-200 bytes of
-- [A-Za-z0-9_.:@-] (util_valid_job_id in C).
local function valid_id(id)
	return #id <= 200 and string.match(id, '^[A-Za-z0-9_.:@-]+$') ~= nil
end

-- The first member of zset z and its score (math.floor), or nil, -1.
local function zfirst(z)
	local f = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
	if f[1] == nil then
		return nil, -1
	end
	return f[1], math.floor(tonumber(f[2]))
end

-- PUBLISH due on chan if id is now the first member of delayed.
local function publish_wake_if_first(delayed, id, due, chan)
	if chan == nil or chan == '' then
		return
	end
	local first = zfirst(delayed)
	if first == id then
		redis.call('PUBLISH', chan, istr(due))
	end
end

-- Packed jobs (docs/keys.md, "Packed jobs"): job ID of queue prefix P as
-- field ID of the hash P..'jobs', its value a body
--   "J1 ATTEMPTS LEASE HANDLER\n" ("-" for no lease)
--   "NAME=VALUE\n" ...           (the hash form's other fields)
--   "\n"
--   PAYLOAD                      (the rest, raw bytes)
-- HANDLER and each VALUE with "%" written "%25" and a newline "%0A", so
-- that the first empty line ends the fields. A job is either packed or a
-- hash of its own (P..'job:'..ID, what producers write); the scripts read
-- both. A packed job's record, decoded, is a table
--   {attempts = n, lease = token or false, handler = s, payload = s,
--    fields = {name, value, ...}}   (fields in their order)
local PK_HEAD = '^J1 (%d+) (%S+) ([^\n]*)\n()'

-- s with "%" and newlines escaped for a body.
local function pk_esc(s)
	if not string.find(s, '[%%\n]') then
		return s
	end
	return (string.gsub(s, '[%%\n]', {['%'] = '%25', ['\n'] = '%0A'}))
end

-- The bytes s escapes (any "%XX" is the byte XX).
local function pk_unesc(s)
	if not string.find(s, '%', 1, true) then
		return s
	end
	return (string.gsub(s, '%%(%x%x)', function(h)
		return string.char(tonumber(h, 16))
	end))
end

-- The record of body b, or nil when b is not a body.
local function pk_decode(b)
	local att, lease, h, pos = string.match(b, PK_HEAD)
	local sep = att and string.find(b, '\n\n', pos - 1, true)
	if not sep or #att > 15 then
		return nil
	end
	local rec = {attempts = tonumber(att),
	    lease = lease ~= '-' and lease, handler = pk_unesc(h), fields = {}}
	if sep >= pos then
		for line in string.gmatch(string.sub(b, pos, sep), '([^\n]*)\n') do
			local name, v = string.match(line, '^([^=]+)=(.*)$')
			if name == nil then
				return nil
			end
			rec.fields[#rec.fields + 1] = name
			rec.fields[#rec.fields + 1] = pk_unesc(v)
		end
	end
	rec.payload = string.sub(b, sep + 2)
	return rec
end

-- The body of record rec.
local function pk_encode(rec)
	local parts = {'J1 ', istr(rec.attempts), ' ', rec.lease or '-', ' ',
	    pk_esc(rec.handler or ''), '\n'}
	for i = 1, #rec.fields, 2 do
		parts[#parts + 1] = rec.fields[i] .. '=' ..
		    pk_esc(rec.fields[i + 1]) .. '\n'
	end
	parts[#parts + 1] = '\n'
	parts[#parts + 1] = rec.payload or ''
	return table.concat(parts)
end

-- The value of field name in rec (nil when absent).
local function rec_get(rec, name)
	for i = 1, #rec.fields, 2 do
		if rec.fields[i] == name then
			return rec.fields[i + 1]
		end
	end
	return nil
end

-- Set field name of rec to v (nil: remove it).
local function rec_set(rec, name, v)
	local f = rec.fields
	for i = 1, #f, 2 do
		if f[i] == name then
			if v == nil then
				table.remove(f, i)
				table.remove(f, i)
			else
				f[i + 1] = v
			end
			return
		end
	end
	if v ~= nil then
		f[#f + 1] = name
		f[#f + 1] = v
	end
end

-- Whether queue prefix P has packed jobs (P..'jobs' is a hash): when not,
-- the scripts skip reading bodies (one TYPE instead of a reply per ID). A
-- key of another type there is garbage: then no job is packed, and the
-- scripts that read jobs go on with the hash jobs (pk_get, pk_has).
local function pk_any(P)
	return key_type(P .. 'jobs') == 'hash'
end

-- The packed value of job id of queue prefix P (false: none).
local function pk_get(P, id)
	return hget_safe(P .. 'jobs', id)
end

-- Whether job id of queue prefix P is packed.
local function pk_has(P, id)
	return redis.pcall('HEXISTS', P .. 'jobs', id) == 1
end

-- Raise an error unless new jobs of queue prefix P can be packed: the
-- scripts that create jobs refuse, and say why, rather than write beside
-- garbage.
local function pk_check(P)
	local t = key_type(P .. 'jobs')
	if t ~= 'hash' and t ~= 'none' then
		error('deferd: ' .. P .. 'jobs is a ' .. t .. ', not a hash of ' ..
		    'packed jobs: rename or delete it')
	end
end

-- The packed values of jobs ids (false for each that is not packed), read
-- in HMGETs of at most 1000.
local function pk_bodies(P, ids)
	local bodies = {}
	for i = 1, #ids, 1000 do
		local part = redis.call('HMGET', P .. 'jobs',
		    unpack(ids, i, math.min(i + 999, #ids)))
		for k = 1, #part do
			bodies[i + k - 1] = part[k]
		end
	end
	return bodies
end

-- Write packed record rec of job id of queue prefix P.
local function pk_write(P, id, rec)
	redis.call('HSET', P .. 'jobs', id, pk_encode(rec))
end

-- Field names a body keeps in its head line, not as NAME=VALUE lines.
local PK_HEAD_NAMES = {handler = true, payload = true, attempts = true,
    lease = true}

-- The body of a new job up to its payload: handler h, no attempt, no
-- lease, the fields f (a name, value list). A name that a body cannot
-- hold (empty, with "=" or a newline, or one of the head line's) is the
-- caller's bug: an error, raised before the caller writes.
local function pk_head(h, f)
	for i = 1, #f, 2 do
		local name = f[i]
		if name == '' or PK_HEAD_NAMES[name] or
		    string.find(name, '[=\n]') then
			error('deferd: a job cannot have a field named ' ..
			    string.format('%q', name))
		end
	end
	return pk_encode({attempts = 0, lease = false, handler = h, fields = f})
end

-- Whether job id of queue prefix P exists, in either form (a job key of
-- any type counts).
local function job_exists(P, id)
	return pk_has(P, id) or redis.call('EXISTS', P .. 'job:' .. id) == 1
end

-- Delete job id of queue prefix P in either form (a key of another type
-- is never deleted).
local function job_delete(P, id)
	if redis.pcall('HDEL', P .. 'jobs', id) ~= 1 then
		del_if_hash(P .. 'job:' .. id)
	end
end

-- Remove id from dead and delete its job (either form).
local function drop_dead(P, dead, id)
	redis.call('ZREM', dead, id)
	job_delete(P, id)
end

-- Put job id into dead with reason (no trim: callers trim once). The job
-- gets last_error and died_ms and loses its lease; a job key of another
-- type, or a packed body that is malformed, is left alone and only the
-- id goes to dead. body: its packed value when the caller read it (false:
-- a hash job; nil: not read yet).
local function bury_job(P, dead, id, reason, now, body)
	local jk = P .. 'job:' .. id
	if body == nil then
		body = pk_get(P, id)
	end
	local ty = not body and key_type(jk)
	if body then
		local rec = pk_decode(body)
		if rec then
			rec.lease = false
			rec_set(rec, 'last_error', reason)
			rec_set(rec, 'died_ms', istr(now))
			pk_write(P, id, rec)
		end
	elseif ty == 'hash' or ty == 'none' then
		redis.call('HDEL', jk, 'lease')
		redis.call('HSET', jk, 'last_error', reason, 'died_ms', istr(now))
	end
	redis.call('ZADD', dead, istr(now), id)
end

-- Lifecycle events (docs/keys.md ns:events). The convention of every script
-- that emits them: the events channel is the ARGV right after the script's
-- fixed arguments and before any variable-length tail (claim's saturated
-- handlers, enqueue's extra field pairs); "" emits nothing, and so does an
-- absent one in scripts without a tail. Arguments that only feed events
-- (complete's duration_ms, ...) follow the channel.

-- Longest string value put into an event, in bytes (error texts, keys).
local EVENT_TEXT_MAX = 1024

-- s cut to max bytes, with every byte that is not part of a well-formed
-- UTF-8 sequence replaced by U+FFFD, so that cjson.encode (which passes
-- bytes >= 0x80 through) writes valid UTF-8 JSON.
local function utf8_clean(s, max)
	if type(s) ~= 'string' then
		s = tostring(s)
	end
	if #s > max then
		s = string.sub(s, 1, max)
	end
	if not string.find(s, '[\128-\255]') then
		return s
	end
	local out, i, n = {}, 1, #s
	while i <= n do
		local c = string.byte(s, i)
		local need, lo, hi = 0, 128, 191
		if c < 128 then
			need = 1
		elseif c >= 194 and c <= 223 then
			need = 2
		elseif c >= 224 and c <= 239 then
			need = 3
			if c == 224 then lo = 160 elseif c == 237 then hi = 159 end
		elseif c >= 240 and c <= 244 then
			need = 4
			if c == 240 then lo = 144 elseif c == 244 then hi = 143 end
		end
		local ok = need > 0
		for k = 1, need - 1 do
			local ck = string.byte(s, i + k)
			if ck == nil or ck < (k == 1 and lo or 128) or
			    ck > (k == 1 and hi or 191) then
				ok = false
				break
			end
		end
		if ok then
			table.insert(out, string.sub(s, i, i + need - 1))
			i = i + need
		else
			table.insert(out, '\239\191\189')
			i = i + 1
		end
	end
	return table.concat(out)
end

-- The queue name Q of a key "ns:{Q}:...".
local function queue_of(k)
	return string.match(k, '{([^}]*)}') or ''
end

-- PUBLISH one event on chan (nothing when chan is "" or nil): a JSON object
-- {"event":name, k1:v1, ..., "ts_ms":now}. The varargs are key, value
-- pairs; nil values are left out, numbers are written as integers,
-- booleans as true/false, strings through utf8_clean and cjson.encode.
local function emit(chan, name, now, ...)
	if chan == nil or chan == '' then
		return
	end
	local parts = {'{"event":', cjson.encode(name)}
	local nargs = select('#', ...)
	local kv = {...}
	for i = 1, nargs, 2 do
		local v = kv[i + 1]
		if v ~= nil then
			if type(v) == 'number' then
				v = istr(v)
			elseif type(v) == 'boolean' then
				v = v and 'true' or 'false'
			elseif #v <= EVENT_TEXT_MAX and
			    not string.find(v, '[%c"\\\128-\255]') then
				v = '"' .. v .. '"'	-- nothing to escape (ids, names)
			else
				v = cjson.encode(utf8_clean(v, EVENT_TEXT_MAX))
			end
			table.insert(parts, ',"' .. kv[i] .. '":' .. v)
		end
	end
	table.insert(parts, ',"ts_ms":' .. istr(now) .. '}')
	redis.call('PUBLISH', chan, table.concat(parts))
end

-- Dead-set entries removed by this script call, by reason.
local trimmed = {max_jobs = 0, ttl = 0}

-- Trim dead by age (older than now - ttl_ms) and count (oldest beyond
-- max_jobs), removing at most DEAD_TRIM_BUDGET entries. 0 = no limit.
-- What it removes is counted in trimmed and announced by a "trimmed"
-- event {queue, count, reason: "ttl" or "max_jobs"}: trimmed jobs are gone.
local function trim_dead(P, dead, now, max_jobs, ttl_ms, events)
	local budget = DEAD_TRIM_BUDGET
	if ttl_ms > 0 then
		local old = redis.call('ZRANGEBYSCORE', dead, '-inf',
		    '(' .. istr(now - ttl_ms), 'LIMIT', 0, budget)
		for _, id in ipairs(old) do
			drop_dead(P, dead, id)
		end
		budget = budget - #old
		trimmed.ttl = trimmed.ttl + #old
		if #old > 0 then
			emit(events, 'trimmed', now, 'queue', queue_of(dead),
			    'count', #old, 'reason', 'ttl')
		end
	end
	if max_jobs > 0 and budget > 0 then
		local excess = redis.call('ZCARD', dead) - max_jobs
		if excess > 0 then
			local ids = redis.call('ZRANGE', dead, 0,
			    math.min(excess, budget) - 1)
			for _, id in ipairs(ids) do
				drop_dead(P, dead, id)
			end
			trimmed.max_jobs = trimmed.max_jobs + #ids
			emit(events, 'trimmed', now, 'queue', queue_of(dead),
			    'count', #ids, 'reason', 'max_jobs')
		end
	end
end

-- The claim entry or outcome tail {"trimmed", by_max_jobs, by_ttl} when
-- this call trimmed the dead set, else nil.
local function trimmed_entry()
	if trimmed.max_jobs + trimmed.ttl == 0 then
		return nil
	end
	return {'trimmed', trimmed.max_jobs, trimmed.ttl}
end

-- The attempt number in a job hash (0 when missing or bad).
local function attempt_of(jk)
	return uint(hget_safe(jk, 'attempts')) or 0
end

-- The reap of packed job id (body: its value), as reap_expired does it
-- for a hash: requeued or buried; returns 1, 0 or 0, 1.
local function reap_packed(P, delayed, dead, id, body, now, default_max,
    events, Q)
	local rec = pk_decode(body)
	if rec == nil then
		bury_job(P, dead, id, 'job body is malformed', now, body)
		return 0, 1
	end
	local max = uint(rec_get(rec, 'max_attempts')) or default_max
	if rec.attempts >= max then
		local why = 'lease expired on the final attempt (worker lost)'
		bury_job(P, dead, id, why, now, body)
		emit(events, 'dead', now, 'queue', Q, 'id', id, 'handler',
		    rec.handler, 'attempt', rec.attempts, 'error', why)
		return 0, 1
	end
	rec.lease = false
	rec_set(rec, 'last_error', 'lease expired (worker lost)')
	rec_set(rec, 'due_ms', istr(now))
	pk_write(P, id, rec)
	redis.call('ZADD', delayed, istr(now), id)
	emit(events, 'retry', now, 'queue', Q, 'id', id, 'handler', rec.handler,
	    'attempt', rec.attempts, 'delay_ms', 0, 'error',
	    'lease expired (worker lost)')
	return 1, 0
end

-- Return jobs of queue prefix P whose lease expired (worker lost): up to
-- limit IDs of active with a score <= now. Each is requeued due now, or
-- buried when it was on its final attempt (max_attempts field, else
-- default_max). Used by reap and, first thing, by every claim. Publishes
-- wake (now) when something was requeued. Returns requeued, buried.
local function reap_expired(P, active, delayed, dead, limit, now,
    dead_max, dead_ttl, default_max, wake, events, Q)
	local requeued, buried = 0, 0
	if limit <= 0 then
		return 0, 0
	end
	local ids = redis.call('ZRANGEBYSCORE', active, '-inf', istr(now),
	    'LIMIT', 0, limit)
	for _, id in ipairs(ids) do
		local jk = P .. 'job:' .. id
		local body = pk_get(P, id)
		local ty = not body and key_type(jk)
		redis.call('ZREM', active, id)
		if body then
			local r, b = reap_packed(P, delayed, dead, id, body, now,
			    default_max, events, Q)
			requeued, buried = requeued + r, buried + b
		elseif ty == 'hash' then
			redis.call('HDEL', jk, 'lease')
			local attempts = uint(hget_safe(jk, 'attempts')) or 0
			local max = uint(hget_safe(jk, 'max_attempts')) or default_max
			if attempts >= max then
				local why = 'lease expired on the final attempt (worker lost)'
				bury_job(P, dead, id, why, now)
				buried = buried + 1
				emit(events, 'dead', now, 'queue', Q, 'id', id, 'handler',
				    hget_safe(jk, 'handler') or nil, 'attempt', attempts,
				    'error', why)
			else
				redis.call('HSET', jk, 'last_error',
				    'lease expired (worker lost)', 'due_ms', istr(now))
				redis.call('ZADD', delayed, istr(now), id)
				requeued = requeued + 1
				emit(events, 'retry', now, 'queue', Q, 'id', id, 'handler',
				    hget_safe(jk, 'handler') or nil, 'attempt', attempts,
				    'delay_ms', 0, 'error', 'lease expired (worker lost)')
			end
		elseif ty ~= 'none' then
			bury_job(P, dead, id, 'job key has wrong type', now)
			buried = buried + 1
		end
	end
	if buried > 0 then
		trim_dead(P, dead, now, dead_max, dead_ttl, events)
	end
	if requeued > 0 and wake ~= nil and wake ~= '' then
		redis.call('PUBLISH', wake, istr(now))
	end
	return requeued, buried
end

-- The outcomes of a claimed job (complete, retry, bury), shared by the
-- single-job scripts and the batched outcome script. Each first checks the
-- lease token (a stale one changes nothing and returns 0) and returns 1
-- when it recorded the outcome. now is Redis time; events and duration_ms
-- only feed the lifecycle events.

-- The lease, handler and attempts of a job: of packed body (its value in
-- P..'jobs'), else of job hash jk (false, nil, 0 when the key is missing
-- or not a hash, or the body is malformed).
-- (An outcome whose token does not match answers 0 when another claim
-- holds the job, 2 when no claim does: the job is finished, or back in
-- delayed or dead, perhaps by this very outcome sent before, whose reply
-- was lost. The daemon tells those two apart by its lease, see job.c.)
local function lease_fields(jk, body)
	if body then
		local att, lease, h = string.match(body, PK_HEAD)
		if not att then
			return false, nil, 0
		end
		return lease ~= '-' and lease, pk_unesc(h), tonumber(att)
	end
	local h = redis.pcall('HMGET', jk, 'lease', 'handler', 'attempts')
	if type(h) ~= 'table' or h.err then
		return false, nil, 0
	end
	return h[1] or false, h[2] or nil, uint(h[3]) or 0
end

-- The prefix P of job hash key jk = P..'job:'..id.
local function prefix_of(jk, id)
	return string.sub(jk, 1, #jk - #id - 4)
end

-- The packed value of job id whose hash key is jk (false: none).
local function body_of(jk, id)
	return pk_get(prefix_of(jk, id), id)
end

-- The handler of a job (packed body, else hash jk; nil when unknown).
local function handler_of(jk, body)
	local _, h = lease_fields(jk, body)
	return h
end

-- Whether job id with hash key jk exists in either form (a key of any
-- type counts), and its due_ms (-1 when unknown).
local function job_due(jk, id)
	local body = body_of(jk, id)
	if body then
		local rec = pk_decode(body)
		return true, rec and uint(rec_get(rec, 'due_ms')) or -1
	end
	if redis.call('EXISTS', jk) == 0 then
		return false
	end
	return true, uint(hget_safe(jk, 'due_ms')) or -1
end

-- istr(ttl) for a result's TTL, formatted once per script call (the
-- outcome sets one result per job, all with the same TTL).
local ttl_texts = {}
local function ttl_text(ttl)
	local t = ttl_texts[ttl]
	if t == nil then
		t = istr(ttl)
		ttl_texts[ttl] = t
	end
	return t
end

-- Success: ZREM active, delete the job, SET result (PX ttl; 0 = not kept).
-- body is the job's packed value (false: a hash; nil: not read yet).
-- With gone (a table {ids = {}, keys = {}, packed = {}}) the ZREM and
-- the deletes are left to the caller, who does them for a whole batch.
local function complete_job(active, jk, rk, id, token, result, ttl, events,
    duration, now, gone, body)
	if body == nil then
		body = body_of(jk, id)
	end
	local lease, handler, attempts
	if events ~= '' then
		lease, handler, attempts = lease_fields(jk, body)
	elseif body then	-- the common case: no event to build
		lease = string.match(body, '^J1 %d+ (%S+) ')
		lease = lease ~= '-' and lease
	else
		lease = hget_safe(jk, 'lease')
	end
	if lease ~= token then
		return lease and 0 or 2
	end
	if events ~= '' then
		emit(events, 'done', now, 'queue', queue_of(active), 'id', id,
		    'handler', handler, 'attempt', attempts, 'duration_ms', duration)
	end
	if gone then
		gone.ids[#gone.ids + 1] = id
		if body then
			gone.packed[#gone.packed + 1] = id
		else
			gone.keys[#gone.keys + 1] = jk
		end
	else
		redis.call('ZREM', active, id)
		if body then
			redis.call('HDEL', prefix_of(jk, id) .. 'jobs', id)
		else
			redis.call('DEL', jk)
		end
	end
	if ttl > 0 then
		redis.call('SET', rk, result, 'PX', ttl_text(ttl))
	end
	return 1
end

-- Back to delayed at now + delay: no lease, last_error (unless ""),
-- due_ms, the attempt given back when refund; wake when now first. body
-- as for complete_job.
local function retry_job(active, delayed, jk, id, token, err, delay, refund,
    wake, events, evname, duration, now, body)
	if body == nil then
		body = body_of(jk, id)
	end
	local lease, handler, attempts = lease_fields(jk, body)
	if lease ~= token then
		return lease and 0 or 2
	end
	local due = now + delay
	redis.call('ZREM', active, id)
	emit(events, evname ~= '' and evname or 'retry', now, 'queue',
	    queue_of(delayed), 'id', id, 'handler', handler, 'attempt', attempts,
	    'delay_ms', delay, 'error', err, 'refunded', refund,
	    'duration_ms', duration)
	if body then
		local rec = pk_decode(body)
		if rec == nil then	-- its head is ours, the rest garbage
			local P = prefix_of(jk, id)
			bury_job(P, P .. 'dead', id, 'job body is malformed', now,
			    body)
			return 1
		end
		rec.lease = false
		rec_set(rec, 'due_ms', istr(due))
		if refund and attempts > 0 then
			rec.attempts = attempts - 1
		end
		if err ~= nil and err ~= '' then
			rec_set(rec, 'last_error', err)
		end
		pk_write(prefix_of(jk, id), id, rec)
		redis.call('ZADD', delayed, istr(due), id)
		publish_wake_if_first(delayed, id, due, wake)
		return 1
	end
	local f = {'due_ms', istr(due)}
	if refund and attempts > 0 then
		f[#f + 1] = 'attempts'
		f[#f + 1] = istr(attempts - 1)
	end
	if err ~= nil and err ~= '' then
		f[#f + 1] = 'last_error'
		f[#f + 1] = err
	end
	redis.call('HDEL', jk, 'lease')
	redis.call('HSET', jk, unpack(f))
	redis.call('ZADD', delayed, istr(due), id)
	publish_wake_if_first(delayed, id, due, wake)
	return 1
end

-- Into dead with err (the caller trims dead once).
local function bury_claimed(P, active, dead, jk, id, token, err, events,
    duration, now, body)
	if body == nil then
		body = pk_get(P, id)
	end
	local lease, handler, attempts = lease_fields(jk, body)
	if lease ~= token then
		return lease and 0 or 2
	end
	redis.call('ZREM', active, id)
	bury_job(P, dead, id, err, now, body)
	emit(events, 'dead', now, 'queue', queue_of(P), 'id', id,
	    'handler', handler, 'attempt', attempts, 'error', err,
	    'duration_ms', duration)
	return 1
end

-- The due time (ms) of an enqueue: now + ms for mode "in", ms for "at".
local function due_of(mode, ms, now)
	if mode == 'in' then
		return now + ms
	end
	return ms
end

-- A job's source field: the given one, or "delayed".
local function source_or_default(source)
	if source == nil or source == '' then
		return 'delayed'
	end
	return source
end

-- Append the source field to the field list f, unless it is the default
-- ("delayed"), which a job without the field has: every field costs each
-- claim of the job a string in and out of Lua, and Redis its memory.
local function add_source(f, source)
	if source ~= 'delayed' then
		f[#f + 1] = 'source'
		f[#f + 1] = source
	end
end
