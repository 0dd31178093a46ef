-- LuaNet.Exit: the network capabilities (http_post, mail), off unless its
-- section allows them (lua_caps.sh). What it does comes from its section:
-- try = http | mail, and the target's settings.
local function num(srv, k)
	local v = srv:config(k)
	return v and tonumber(v)
end

local function http(srv)
	local status, body = certmint.http_post(srv:config("url"),
	    certmint.json.encode({ event = "CERTISSUED", who = "Zoë" }), {
		headers = { ["Content-Type"] = "application/json",
		    ["X-Certmint-Test"] = "lua" },
		timeout = num(srv, "http_timeout"),
		ca_file = srv:config("ca"),
		max_response = num(srv, "max_response"),
	})
	if not status then
		srv:log("http failed: " .. body)
	else
		srv:log(string.format("http status=%d len=%d body=%s", status,
		    #body, body:sub(1, 40)))
	end
end

local function mail(srv)
	local ok, err = certmint.mail({
		server = "127.0.0.1", port = num(srv, "port"),
		tls = srv:config("tls") or "none", ca_file = srv:config("ca"),
		from = "Certmint CA <ca@example.com>",
		to = { "security@example.com", "Zoë Ops <ops@example.com>" },
		subject = "Issued: Zoë's certificate",
		body = "Grüße\nline two\n",
	})
	srv:log(ok and "mail sent" or ("mail failed: " .. err))
end

return {
	name = "LuaNet.Exit",
	events = { "CERTISSUED" },
	notify = function(event, context, srv)
		if srv:config("try") == "mail" then
			mail(srv)
		else
			http(srv)
		end
		return true
	end,
}
