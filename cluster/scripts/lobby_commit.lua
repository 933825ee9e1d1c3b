-- Commits one change of one lobby (every key in one slot: {l:ID}).
--
-- KEYS[1] {l:ID}:doc  hash: v version, o last event offset, d document, s shards
-- KEYS[2] {l:ID}:log  stream: one entry per event, id <offset>-1, field e
-- KEYS[3] {l:ID}:dl   stream: the shards' delivery records (deliveries.go)
--
-- ARGV[1] expected version (0: the lobby must not exist)
-- ARGV[2] new document; "" deletes the lobby; "=" leaves it as it is
--         (events only: chat, cross-shard data), without bumping the version
-- ARGV[3] acting shard (not published to: it delivers from the reply)
-- ARGV[4] channel prefix ("<prefix>shard:")
-- ARGV[5] lobby id (heads every message)
-- ARGV[6] shards with members after the change, space-separated (ignored for "=")
-- ARGV[7] number of events n, then ARGV[8..7+n] the events
--
-- Reply: {1, first offset, new version} or {0, current version} when the
-- version is not the expected one (the caller re-reads and re-runs the rules).
-- Every shard with a member before or after the change gets one message:
-- "<id> <first> <version> <n> <doclen> " .. doc .. events, doclen -1 when deleted,
-- 0 when unchanged.
-- Events-only commits (chat, a split lobby's relay) are most of a busy
-- cluster's Redis work, so the script keeps their path short: numbers are
-- formatted once each (Lua formats them with sprintf), the version compared
-- as the string it is stored as, and the shard list walked once.
local h = redis.call('HMGET', KEYS[1], 'v', 'o', 's')
local vs = h[1] or '0'
if vs ~= ARGV[1] and tonumber(vs) ~= tonumber(ARGV[1]) then
  return {0, tonumber(vs)}
end
local v = tonumber(vs)
local os = h[2] or '0'
local o = tonumber(os)
local old = h[3] or ''
local n = tonumber(ARGV[7])
local first = o + 1
for i = 1, n do
  o = o + 1
  os = tostring(o)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 4096, os .. '-1', 'e', ARGV[7 + i])
end
local doc = ARGV[2]
local new = ARGV[6]
local doclen
if doc == '' then
  redis.call('DEL', KEYS[1])
  redis.call('EXPIRE', KEYS[2], 60)
  -- Long enough for the players of a shard that died with the lobby's
  -- last events to resume (found dead, then their grace): not an hour.
  redis.call('EXPIRE', KEYS[3], 300) -- deliveries.go: recordGoneTTL
  v = v + 1
  vs = tostring(v)
  doclen = '-1'
elseif doc == '=' then
  if n > 0 then
    redis.call('HSET', KEYS[1], 'o', os)
  end
  new = nil -- the members' shards are the stored ones
  doclen = '0'
  doc = ''
else
  v = v + 1
  vs = tostring(v)
  redis.call('HSET', KEYS[1], 'v', vs, 'o', os, 'd', doc, 's', new)
  doclen = tostring(#doc)
end
if n > 0 or doclen ~= '0' then
  local fs = os
  if n ~= 1 then
    fs = tostring(first)
  end
  local events = ARGV[8]
  if n ~= 1 then
    events = table.concat(ARGV, '', 8, 7 + n)
  end
  local msg = ARGV[5] .. ' ' .. fs .. ' ' .. vs .. ' ' .. ARGV[7] .. ' ' .. doclen .. ' ' .. doc .. events
  local me, prefix = ARGV[3], ARGV[4]
  -- A shard list names each shard once (shardsOf).
  for s in string.gmatch(old, '%S+') do
    if s ~= me then
      redis.call('PUBLISH', prefix .. s, msg)
    end
  end
  if new then
    local sent = {[me] = true}
    for s in string.gmatch(old, '%S+') do
      sent[s] = true
    end
    for s in string.gmatch(new, '%S+') do
      if not sent[s] then
        redis.call('PUBLISH', prefix .. s, msg)
      end
    end
  end
end
return {1, first, v}
