-- claim: take due jobs from delayed and lease them (docs/keys.md).
--
-- KEYS[1] delayed zset
-- KEYS[2] active zset
-- KEYS[3] dead zset
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] limit: at most this many jobs are claimed
-- ARGV[3] lease_ms: the active score is now + lease_ms
-- ARGV[4] token nonce: the k-th job claimed by this call (k = 1, 2, ...)
--         gets the lease token nonce..'-'..k. When P..'unclaimed:'..nonce
--         exists (the unclaim script gave this claim up as lost before it
--         ran) nothing is claimed.
-- ARGV[5] max payload bytes (0 = no limit)
-- ARGV[6] scan cap: how many due candidates to look at (>= limit)
-- ARGV[7] dead max_jobs (0 = no limit)
-- ARGV[8] dead ttl_ms (0 = no limit)
-- ARGV[9] reap limit: first return up to this many jobs whose lease expired
--         (as the reap script does; 0 = do not reap)
-- ARGV[10] default max_attempts (for reaped jobs without the field)
-- ARGV[11] events channel ("" = none): "claimed" {queue, id, handler,
--         attempt, late_ms = now - max(due_ms, enqueued_ms)} per claimed
--         job, "dead" {queue, id, handler, error} per job buried for bad
--         data, and the reap's
--         "retry"/"dead" events
-- ARGV[12] shared limit (default: the limit): jobs of handlers not in a
--         persistent pool (those that take one of the daemon's
--         `concurrency` slots) at most this many; the limit counts every job
-- ARGV[13] probe channel ("" = none) and ARGV[14] probe message: PUBLISH
--         the message on the channel (the daemon's subscriber liveness
--         probe rides on a claim instead of a command of its own); the
--         reply then ends with {"probe", subscribers}
-- ARGV[15..] triples handler, cap, class: at most cap jobs of handler
--         (0: skip them all, as for a handler at its max_concurrency);
--         class "pool" (a persistent handler: its jobs do not count
--         against the shared limit) or "shared", either followed by
--         "@N/PERIOD_MS" for a rate limit: a token bucket in
--         P..'rate:'..handler (fields tokens, ts; N tokens at most, N per
--         PERIOD_MS; one per job claimed; kept two periods after its last
--         use, then full again). Skipped jobs stay in delayed untouched;
--         a job over its handler's rate stays in delayed with the time
--         its token comes as its score (the k-th over the rate in a call,
--         the k-th token from now), out of the way of the jobs behind it.
--
-- Reaped jobs are due now and so may be claimed by this very call. Then
-- candidates are ZRANGEBYSCORE delayed -inf now LIMIT 0 scan_cap, and one
-- HMGET of P..'jobs' reads those that are packed (docs/keys.md, "Packed
-- jobs"). Each one, until limit jobs are claimed, no cap or shared slot
-- is left, or (once a job was claimed) 16 were skipped in a row, is read
-- (a hash job with one HGETALL) and either buried (bad data), skipped
-- (its handler's cap or the shared limit is reached) or claimed: attempts+1
-- and the lease token (a hash job with its own HSET, packed ones with one
-- HSET of P..'jobs' for all); then one ZREM delayed and one ZADD active
-- now+lease_ms cover all of them (few commands per job: this script runs
-- for every job deferd runs).
--
-- Reply: {now_ms, next_due_ms or -1, skipped_count, reaped_requeued,
-- reaped_buried, entry, entry, ...}
-- next_due_ms is the (floored) score of the first member left in delayed,
-- or now_ms when due candidates were left there (past the limit, skipped).
-- An entry is {"run", id, token, field1, value1, ..., "attempts", N} for a
-- hash job (the hash as it was before the claim, HGETALL order, then the
-- new attempt number, which overrides an earlier "attempts"; the lease is
-- the token), {"runs", id, token, body, id, token, body, ...} for all the
-- packed jobs claimed, where the first of them was (each body as claimed:
-- the new attempt number and token in its head line; one entry, because
-- Redis converts each table of a reply with a dozen lookups), or
-- {"buried", id, reason}.
-- Reasons:
--   "job hash missing"
--   "job body is malformed" (the body is left as it is)
--   "job key has wrong type" (the key is left alone; only the ID moves)
--   "job has no handler"
--   "field F is not a number: 'V'" (F attempts, max_attempts, timeout_ms;
--       V cut to 40 bytes)
--   "payload of N bytes exceeds handlers.max_payload (M bytes)"
--   "job ID breaks the ID rules (1-200 bytes of [A-Za-z0-9_.:@-]): "ID""
--       (ID cut to 60 bytes, %q-quoted; a hash job's: the daemon buries a
--       packed job's through the outcome, job.c)
--   "due time is +inf: it would never run" (at most 10 per call, by
--       the claims that take fewer jobs than their limit)
-- The last entry is {"trimmed", by_max_jobs, by_ttl} when burying made
-- the dead set drop old entries (they are gone), and after it {"paused"}
-- when jobs are due but P..'paused' exists (deferctl pause): nothing is
-- claimed and next_due_ms is -1; {"probe", subscribers} ends a claim that
-- carried the liveness probe.

local delayed, active, dead = KEYS[1], KEYS[2], KEYS[3]
local P = ARGV[1]
local limit, lease_ms = arg_uint(2), arg_uint(3)
local nonce = ARGV[4]
local max_payload, scan_cap = arg_uint(5), arg_uint(6)
local dead_max, dead_ttl = arg_uint(7), arg_uint(8)
local reap_limit, default_max = arg_uint(9), arg_uint(10)
local events = ARGV[11]
local Q = queue_of(delayed)

if events == nil then
	error('deferd: ARGV[11] (events channel) missing')
end

local shared_left = ARGV[12] ~= nil and arg_uint(12) or limit
local probe_channel, probe_message = ARGV[13] or '', ARGV[14] or ''
if #ARGV > 14 and (#ARGV - 14) % 3 ~= 0 then
	error('deferd: handler caps come in triples after ARGV[14]')
end
-- handler -> {left = jobs it may still take, pool = not in shared_left}
local caps = {}
local pools_open = 0	-- pool handlers that may still take a job
for i = 15, #ARGV, 3 do
	local class, n, period = string.match(ARGV[i + 2], '^(%a+)@(%d+)/(%d+)$')
	class = class or ARGV[i + 2]
	local c = {left = arg_uint(i + 1), pool = class == 'pool'}
	if n and tonumber(n) > 0 and tonumber(period) > 0 then
		c.rate, c.period = tonumber(n), tonumber(period)
	end
	caps[ARGV[i]] = c
	if c.pool and c.left > 0 then
		pools_open = pools_open + 1
	end
end

local now = now_ms()
local rated = {}		-- handlers whose bucket this call read
local later = {}		-- score, id pairs: jobs moved to their token's time

-- The tokens in handler h's bucket now (read once per call, then counted
-- down as jobs are claimed; written back at the end).
local function bucket(h, c)
	if c.tokens == nil then
		local v = redis.call('HMGET', P .. 'rate:' .. h, 'tokens', 'ts')
		local t, ts = tonumber(v[1]), tonumber(v[2])
		if t == nil or ts == nil or ts > now then
			t, ts = c.rate, now
		end
		c.tokens = math.min(c.rate, t + (now - ts) * c.rate / c.period)
		rated[#rated + 1] = h
	end
	return c.tokens
end

-- Whether a job of handler h may be claimed now. For one over its
-- handler's rate, also the time its token comes (the k-th over the rate
-- in this call waits for the k-th token from now).
local function may_take(h)
	local c = caps[h]
	if c and c.left <= 0 then
		return false
	end
	if not ((c and c.pool) or shared_left > 0) then
		return false
	end
	if c and c.rate and bucket(h, c) < 1 then
		c.over = (c.over or 0) + 1
		return false, now + math.ceil((c.over - c.tokens) * c.period /
		    c.rate)
	end
	return true
end

-- Count a claimed job of handler h (may_take said yes).
local function take_slot(h)
	local c = caps[h]
	if not (c and c.pool) then
		shared_left = shared_left - 1
	end
	if c and c.rate then
		c.tokens = c.tokens - 1
	end
	if c then
		c.left = c.left - 1
		if c.pool and c.left == 0 then
			pools_open = pools_open - 1
		end
	end
end

-- Skipped candidates in a row after which a claim that has taken jobs
-- stops looking: each costs an HGET, and a burst for a full pool
-- would otherwise read the whole scan cap on every claim for nothing.
local SKIP_RUN = 16
if scan_cap < limit then
	scan_cap = limit
end

local reply = {now, -1, 0, 0, 0}
reply[4], reply[5] = reap_expired(P, active, delayed, dead, reap_limit, now,
    dead_max, dead_ttl, default_max, P .. 'wake', events, Q)
local claimed, skipped, buried = 0, 0, 0
local still_due = false	-- due candidates were left in delayed
-- Payload bytes one claim returns beyond its first job: the daemon holds
-- a reply twice while reading it (buffer and parsed reply), so a burst of
-- big payloads is claimed a few at a time rather than all in one reply.
local PAYLOAD_BUDGET = 1048576
local payload_bytes = 0
local NUMERIC = {attempts = true, max_attempts = true, timeout_ms = true}
-- A packed job's numeric fields: name, what a plain find looks for (most
-- jobs have neither: no pattern is run), the pattern that reads it.
local NUMERIC_PACKED = {
	{'max_attempts', '\nmax_attempts=', '\nmax_attempts=([^\n]*)'},
	{'timeout_ms', '\ntimeout_ms=', '\ntimeout_ms=([^\n]*)'},
}

-- Why a job whose payload has n bytes cannot run (nil when it can).
local function payload_over(n)
	if max_payload > 0 and n > max_payload then
		return 'payload of ' .. istr(n) ..
		    ' bytes exceeds handlers.max_payload (' ..
		    istr(max_payload) .. ' bytes)'
	end
	return nil
end

-- The job with hash key jk: why it cannot run (nil when it can), its flat
-- HGETALL list, and the fields this script reads (handler, the payload's
-- length, attempts, due_ms, enqueued_ms; nil when absent). One HGETALL answers
-- every check (a key of another type makes it fail, hence pcall); one pass
-- over it picks the fields and checks the numeric ones, into locals: a
-- table per job would cost more than the pass.
local function load(jk)
	local all = redis.pcall('HGETALL', jk)
	if type(all) ~= 'table' or all.err then
		return 'job key has wrong type'
	end
	if #all == 0 then
		return 'job hash missing'
	end
	local h, pl, att, due, enq
	for k = 1, #all, 2 do
		local name, v = all[k], all[k + 1]
		if name == 'handler' then
			h = v
		elseif name == 'payload' then
			pl = v
		elseif name == 'due_ms' then
			due = v
		elseif name == 'enqueued_ms' then
			enq = v
		elseif NUMERIC[name] then
			if uint(v) == nil then
				return 'field ' .. name .. ' is not a number: \'' ..
				    string.sub(v, 1, 40) .. '\''
			end
			if name == 'attempts' then
				att = v
			end
		end
	end
	if not h or h == '' then
		return 'job has no handler'
	end
	local why = payload_over(#(pl or ''))
	if why then
		return why
	end
	return nil, all, h, #(pl or ''), att, due, enq
end

-- The packed job of body b (docs/keys.md, "Packed jobs"), as load() for a
-- hash, but with the body from its handler on (what the claim's rewrite
-- keeps) in place of the HGETALL list. The head line has the attempts
-- and the handler; the named fields are searched only for the numbers
-- (and, with events, the times).
local function load_packed(b)
	local att, hpos, h, pos = string.match(b, '^J1 (%d+) %S+ ()([^\n]*)\n()')
	local sep = att and string.find(b, '\n\n', pos - 1, true)
	if not sep or #att > 15 then
		return 'job body is malformed'
	end
	local due, enq
	-- The fields are b's bytes pos - 1 .. sep: a find past sep is in the
	-- payload.
	for _, n in ipairs(NUMERIC_PACKED) do
		local at = string.find(b, n[2], pos - 1, true)
		local v = at and at < sep and string.match(b, n[3], at)
		if v and uint(v) == nil then
			return 'field ' .. n[1] .. ' is not a number: \'' ..
			    string.sub(pk_unesc(v), 1, 40) .. '\''
		end
	end
	if events ~= '' and sep >= pos then
		local fields = string.sub(b, pos - 1, sep)
		due = string.match(fields, '\ndue_ms=([^\n]*)')
		enq = string.match(fields, '\nenqueued_ms=([^\n]*)')
	end
	h = pk_unesc(h)
	if h == '' then
		return 'job has no handler'
	end
	local pl_len = #b - sep - 1
	local why = payload_over(pl_len)
	if why then
		return why
	end
	return nil, string.sub(b, hpos), h, pl_len, att, due, enq
end

-- The claim entry {"run", id, token, field, value, ..., "attempts", N}:
-- the hash as HGETALL read it, then the new attempt number (the later
-- "attempts" is the one that counts; the token is the new lease).
local function entry(id, token, all, attempts_text)
	local e
	if #all <= 1000 then
		e = {'run', id, token, unpack(all)}
	else	-- unpack has a limit; a hash this big is someone's garbage
		e = {'run', id, token}
		for k = 1, #all do
			e[k + 3] = all[k]
		end
	end
	e[#e + 1] = 'attempts'
	e[#e + 1] = attempts_text
	return e
end

-- The earliest job left after the reap: when none is due (and it is not
-- one due at +inf, which the claim buries), an idle poll ends here, with
-- TIME, the reap's read and this ZRANGE as its only commands.
local first, first_due = zfirst(delayed)
if first == nil or (first_due > now and first_due ~= math.huge) then
	limit = 0
end
-- A paused queue (deferctl pause) is reaped but not claimed from; with
-- next_due -1 the daemon waits for the wake of deferctl resume. Both
-- markers are read only when jobs are due (an idle claim stays at its one
-- read), in one EXISTS: they are seldom there.
local paused = false
if limit > 0 and redis.call('EXISTS', P .. 'unclaimed:' .. nonce,
    P .. 'paused') > 0 then
	if redis.call('EXISTS', P .. 'unclaimed:' .. nonce) == 1 then
		limit = 0
	else
		limit, paused = 0, true
	end
end
if limit > 0 then
	local cands = redis.call('ZRANGEBYSCORE', delayed, '-inf', istr(now),
	    'LIMIT', 0, scan_cap)
	-- The packed candidates' values (none or false: a hash job).
	local bodies = pk_any(P) and pk_bodies(P, cands) or {}
	local taken, leased, rewrites = {}, {}, {}
	local runs = {'runs'}	-- the packed jobs claimed: id, token, body
	local deadline = istr(now + lease_ms)
	-- Move id from delayed to dead for why, and say so.
	local function bury(id, why)
		taken[#taken + 1] = id
		bury_job(P, dead, id, why, now)
		buried = buried + 1
		table.insert(reply, {'buried', id, why})
		emit(events, 'dead', now, 'queue', Q, 'id', id, 'error', why)
	end
	local run = 0	-- candidates skipped in a row
	for i, id in ipairs(cands) do
		if claimed >= limit or payload_bytes >= PAYLOAD_BUDGET or
		    (shared_left <= 0 and pools_open == 0) or
		    (claimed > 0 and run >= SKIP_RUN) then
			break
		end
		local body = bodies[i] or false
		local jk = not body and P .. 'job:' .. id	-- a hash job's key
		local why, all, h, pl_len, att, due, enq
		-- A hash job's ID names its key: checked here. A packed job's
		-- names none; the daemon checks it (job.c), sparing Redis a
		-- pattern over every ID.
		local ok_id = body or valid_id(id)
		local skip_h = run > 0 and ok_id and not body and
		    hget_safe(jk, 'handler')
		local ok, token_at
		if skip_h then
			ok, token_at = may_take(skip_h)
		end
		if skip_h and not ok then
			-- Skipping already: one HGET tells, not a whole HGETALL.
			why = 'skip'
		elseif ok_id and body then
			why, all, h, pl_len, att, due, enq = load_packed(body)
		elseif ok_id then
			why, all, h, pl_len, att, due, enq = load(jk)
		else
			why = 'job ID breaks the ID rules (1-200 bytes of ' ..
			    '[A-Za-z0-9_.:@-]): ' ..
			    string.format('%q', string.sub(id, 1, 60))
		end
		run = run + 1
		if not why and not skip_h then
			ok, token_at = may_take(h)
		end
		if token_at then
			-- Over its handler's rate: out of the way of the jobs
			-- behind it until its token comes; none starts early.
			later[#later + 1] = istr(token_at)
			later[#later + 1] = id
		elseif why == 'skip' or (not why and not ok) then
			skipped = skipped + 1
		elseif why then
			bury(id, why)
			run = 0
		else
			take_slot(h)
			run = 0
			claimed = claimed + 1
			payload_bytes = payload_bytes + pl_len
			local token = nonce .. '-' .. claimed
			local attempts, attempts_text = 1, '1'	-- the common case
			if att and att ~= '0' then
				attempts = tonumber(att) + 1
				attempts_text = istr(attempts)
			end
			if body then	-- all: the body from its handler on
				local nb = 'J1 ' .. attempts_text .. ' ' .. token ..
				    ' ' .. all
				rewrites[#rewrites + 1] = id
				rewrites[#rewrites + 1] = nb
				if #runs == 1 then	-- in the reply where the first is
					reply[#reply + 1] = runs
				end
				runs[#runs + 1] = id
				runs[#runs + 1] = token
				runs[#runs + 1] = nb
			else
				redis.call('HSET', jk, 'attempts', attempts_text,
				    'lease', token)
				reply[#reply + 1] = entry(id, token, all,
				    attempts_text)
			end
			taken[#taken + 1] = id
			leased[#leased + 1] = deadline
			leased[#leased + 1] = id
			if events ~= '' then
				-- Late from when it could first run (see job.c).
				due, enq = uint(due), uint(enq)
				if due and enq and enq > due then
					due = enq
				end
				emit(events, 'claimed', now, 'queue', Q, 'id', id,
				    'handler', h, 'attempt', attempts,
				    'late_ms', due and now - due or nil)
			end
		end
	end
	-- A due time of +inf is never reached: bury instead of keeping it.
	-- Looked for by the claims that take fewer than their limit (the due
	-- jobs ran out): a burst's full claims skip the read, and a job at
	-- +inf is behind every other, so it waits for the burst's end.
	if claimed < limit then
		for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '+inf',
		    '+inf', 'LIMIT', 0, 10)) do
			bury(id, 'due time is +inf: it would never run')
		end
	end
	-- A due candidate that stays in delayed (past the limit, or skipped)
	-- means jobs are still due: the reply says now, without a read.
	still_due = #cands > #taken + #later / 2
	call_chunked('HSET', P .. 'jobs', rewrites, 2)
	call_chunked('ZREM', delayed, taken, 1)
	call_chunked('ZADD', active, leased, 2)
	call_chunked('ZADD', delayed, later, 2)
end
if buried > 0 then
	trim_dead(P, dead, now, dead_max, dead_ttl, events)
end
if trimmed_entry() then
	table.insert(reply, trimmed_entry())
end
local next_due = first_due
if still_due then
	next_due = now
elseif claimed > 0 or buried > 0 or #later > 0 then
	next_due = select(2, zfirst(delayed))
end
-- Write back the buckets read (they vanish two periods after their last
-- use: full again, as a bucket that long unused would be).
for _, h in ipairs(rated) do
	local c = caps[h]
	redis.call('HSET', P .. 'rate:' .. h, 'tokens',
	    string.format('%.6f', math.max(c.tokens, 0)), 'ts', istr(now))
	redis.call('PEXPIRE', P .. 'rate:' .. h, istr(2 * c.period + 1000))
end
reply[2] = next_due
reply[3] = skipped
if paused then
	reply[2] = -1
	table.insert(reply, {'paused'})
end
if probe_channel ~= '' then
	table.insert(reply, {'probe', redis.call('PUBLISH', probe_channel,
	    probe_message)})
end
return reply
