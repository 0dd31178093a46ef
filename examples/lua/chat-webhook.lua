-- chat-webhook.lua: post a short message to a chat webhook (Slack,
-- Mattermost, Teams style {"text": ...}) for each issued, revoked or
-- denied certificate, with certmint.http_post (the webhook module's code).
--
--   [ChatWebhook.Exit]
--   allow = http
--   url = https://chat.example.com/hooks/<your hook's token>
--   ca_file = /etc/ssl/certs/chat-ca.pem  ; optional: the system's otherwise
local url, ca_file

local verbs = {
	CERTISSUED = "issued", CERTREVOKED = "revoked", CERTDENIED = "denied",
}

return {
	name = "ChatWebhook.Exit",
	description = "posts certificate events to a chat webhook",
	events = { "CERTISSUED", "CERTREVOKED", "CERTDENIED" },
	threading = "concurrent",
	initialize = function(config, srv)
		url = srv:config("url")
		ca_file = srv:config("ca_file")
		if not url then
			return nil, "set url = the webhook's address"
		end
	end,
	notify = function(event, context, srv)
		local verb = verbs[certmint.event_name(event)]
		local who = srv:request_property("RequesterName") or "?"
		local dn = srv:request_property("Request.DistinguishedName") or "?"
		local text = string.format("certificate %s: %s (request %d by %s)",
		    verb, dn, context, who)
		local body = certmint.json.encode({ text = text })
		local status, answer = certmint.http_post(url, body, {
			headers = { ["Content-Type"] = "application/json" },
			timeout = 10, ca_file = ca_file,
		})
		if not status then
			return nil, answer	-- the reason: retried
		end
		if status >= 300 then
			return nil, "webhook answered " .. status .. ": " ..
			    answer:sub(1, 200)
		end
		return true
	end,
}
