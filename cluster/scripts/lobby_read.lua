-- Reads one lobby as a follower needs it, atomically: the document with
-- its version and last offset, and the log after an offset.
--
-- KEYS[1] {l:ID}:doc, KEYS[2] {l:ID}:log
-- ARGV[1] offset to read the log after; "" reads no log
--
-- Reply: {version or nil, offset or nil, document or nil, entries}
local h = redis.call('HMGET', KEYS[1], 'v', 'o', 'd')
local log = {}
if ARGV[1] ~= '' then
  log = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-1', '+')
end
return {h[1], h[2], h[3], log}
