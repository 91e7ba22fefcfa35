-- listreturn: a list source stopped by a reload gives its processing list
-- back to the head of the main list, in order (source_list.c), when no
-- running source reads the same list.
--
-- KEYS[1] the stopped source's processing list
-- KEYS[2] the main list
--
-- Reply: the number of items moved back.

local proc, main = KEYS[1], KEYS[2]
local n = 0
while redis.call('LMOVE', proc, main, 'RIGHT', 'LEFT') do
	n = n + 1
end
return n
