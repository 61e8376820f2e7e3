-- wrk script: GitLab's audit event stream as a receiver sees it.
--
-- Each request is one realistic ~700-byte audit event, as GitLab streams it: a POST with the
-- X-Gitlab-Event-Streaming-Token and X-Gitlab-Audit-Event-Type headers and GitLab's
-- application/x-www-form-urlencoded Content-Type (the body is JSON all the same).
-- Ids are integers, unique across up to 64 wrk threads (thread t sends base + t, base + t + 64,
-- base + t + 128, ...);
-- one request in five repeats an id this thread sent before, with the same body, as a GitLab
-- job retry would.
--
--   wrk -t1 -c64 -d10s --latency -s bench/wrk_post.lua http://127.0.0.1:8080/ -- TOKEN [BASE_ID]
--
-- Arguments after "--": the streaming token (default "bench-token-0123456789ab") and the first id
-- (default 2000000000). done() prints one line "auditstream-bench {...}" with the counts the
-- benchmark checks against the journal: requests sent, fresh ids sent, answers, non-200 answers,
-- and the receiver's own "accepted"/"duplicates" counts summed over the answers.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
local token = "bench-token-0123456789ab"
local MAX_THREADS = 64
local next_id, first_id
sent, fresh, answered, non200, accepted, duplicates = 0, 0, 0, 0, 0, 0

function init(args)
   if args[1] and args[1] ~= "" then token = args[1] end
   if thread_index >= MAX_THREADS then
      error("wrk_post.lua keeps ids unique for at most " .. MAX_THREADS .. " threads")
   end
   local base = tonumber(args[2] or "2000000000")
   next_id = base + thread_index
   first_id = next_id
   math.randomseed(1000 + thread_index)
end

-- Four event shapes seen in GitLab's stream, each ~700 bytes once filled in.
local shapes = {
   {
      type = "repository_git_operation",
      body = '{"id":%d,"author_id":%d,"entity_id":%d,"entity_type":"Project",'
         .. '"details":{"author_name":"%s","author_class":"User","target_id":%d,'
         .. '"target_type":"Project","target_details":"%s",'
         .. '"custom_message":{"protocol":"ssh","action":"git-upload-pack"},'
         .. '"ip_address":"%s","entity_path":"%s"},'
         .. '"ip_address":"%s","author_name":"%s","entity_path":"%s",'
         .. '"target_details":"%s","created_at":"%s","target_type":"Project",'
         .. '"target_id":%d,"event_type":"repository_git_operation"}',
   },
   {
      type = "merge_request_create",
      body = '{"id":%d,"author_id":%d,"entity_id":%d,"entity_type":"Project",'
         .. '"details":{"author_name":"%s","author_class":"User","target_id":%d,'
         .. '"target_type":"MergeRequest","target_details":"%s",'
         .. '"custom_message":"Added merge request","ip_address":"%s","entity_path":"%s"},'
         .. '"ip_address":"%s","author_name":"%s","entity_path":"%s",'
         .. '"target_details":"%s","created_at":"%s","target_type":"MergeRequest",'
         .. '"target_id":%d,"event_type":"merge_request_create"}',
   },
   {
      type = "member_created",
      body = '{"id":%d,"author_id":%d,"entity_id":%d,"entity_type":"Group",'
         .. '"details":{"author_name":"%s","author_class":"User","target_id":%d,'
         .. '"target_type":"User","target_details":"%s","custom_message":"Added member",'
         .. '"add":"user_access","as":"Developer","member_id":%d,'
         .. '"ip_address":"%s","entity_path":"%s"},'
         .. '"ip_address":"%s","author_name":"%s","entity_path":"%s",'
         .. '"target_details":"%s","created_at":"%s","target_type":"User",'
         .. '"target_id":%d,"event_type":"member_created"}',
   },
   {
      type = "audit_operation",
      body = '{"id":%d,"author_id":%d,"entity_id":%d,"entity_type":"Project",'
         .. '"details":{"author_name":"%s","author_class":"User","target_id":%d,'
         .. '"target_type":"Project","target_details":"%s",'
         .. '"custom_message":"Changed visibility level from private to internal",'
         .. '"change":"visibility_level","from":"private","to":"internal",'
         .. '"ip_address":"%s","entity_path":"%s"},'
         .. '"ip_address":"%s","author_name":"%s","entity_path":"%s",'
         .. '"target_details":"%s","created_at":"%s","target_type":"Project",'
         .. '"target_id":%d,"event_type":"audit_operation"}',
   },
}

local people = {"Alice Lindqvist-Okafor", "Bartholomew Quigley", "Chen Xiaoming",
                "Dolores Haze-Montgomery"}
local groups = {"acme/platform-engineering", "acme/payments", "acme/security/incident-response",
                "acme/mobile-apps"}
local projects = {"payments-service-backend", "infrastructure-terraform-modules",
                  "customer-portal-frontend", "internal-developer-tooling"}

-- The event with this id, always the same bytes: a repeat is a byte-for-byte duplicate.
local function event(id)
   local n = math.floor(id / MAX_THREADS) + id % MAX_THREADS  -- varies along a thread's ids
   local shape = shapes[n % 4 + 1]
   local who = people[n % 3 + 1]
   local author_id = 1000 + id % 997
   local path = groups[math.floor(n / 4) % 4 + 1] .. "/" .. projects[math.floor(n / 16) % 4 + 1]
   local ip = string.format("203.0.%d.%d", id % 251, id % 239 + 1)
   local target_id = 50000 + id % 9973
   local seconds = 1778300000 + id % 8000000
   local created = os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%03dZ", id % 1000)
   local body
   if shape.type == "member_created" then  -- a group's event: its path is the group's
      local group = groups[math.floor(n / 4) % 4 + 1]
      body = string.format(shape.body, id, author_id, target_id, who, target_id, who,
                           target_id, ip, group, ip, who, group, who, created, target_id)
   elseif shape.type == "merge_request_create" then
      local title = path .. "!" .. (id % 4096)
      body = string.format(shape.body, id, author_id, target_id, who, target_id, title, ip,
                           path, ip, who, path, title, created, target_id)
   else
      body = string.format(shape.body, id, author_id, target_id, who, target_id, path, ip,
                           path, ip, who, path, path, created, target_id)
   end
   return shape.type, body
end

function request()
   sent = sent + 1
   local id
   if sent % 5 == 0 and fresh > 0 then
      -- A repeat of an id this thread already sent, chosen at random.
      id = first_id + MAX_THREADS * math.random(0, fresh - 1)
   else
      id = next_id
      next_id = next_id + MAX_THREADS
      fresh = fresh + 1
   end
   local event_type, body = event(id)
   return wrk.format("POST", "/", {
      ["X-Gitlab-Event-Streaming-Token"] = token,
      ["X-Gitlab-Audit-Event-Type"] = event_type,
      ["Content-Type"] = "application/x-www-form-urlencoded",
   }, body)
end

function response(status, headers, body)
   answered = answered + 1
   if status ~= 200 then
      non200 = non200 + 1
      return
   end
   local a, d = string.match(body, '"accepted":%s*(%d+),%s*"duplicates":%s*(%d+)')
   if a then
      accepted = accepted + tonumber(a)
      duplicates = duplicates + tonumber(d)
   end
end

function done(summary, latency, requests)
   local totals = {sent = 0, fresh = 0, answered = 0, non200 = 0, accepted = 0, duplicates = 0}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + thread:get(name)
      end
   end
   io.write(string.format(
      'auditstream-bench {"sent":%d,"fresh":%d,"answered":%d,"non200":%d,'
      .. '"accepted":%d,"duplicates":%d,"threads":%d}\n',
      totals.sent, totals.fresh, totals.answered, totals.non200, totals.accepted,
      totals.duplicates, #threads))
end
