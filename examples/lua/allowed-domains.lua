-- allowed-domains.lua: a policy module that denies requests for names
-- outside the allowed domains, holds for an officer those that ask for
-- review, and issues the rest, valid for `days` when set (the profile's
-- max_validity_days still caps it). The built-in policy's limits
-- ([policy]) apply first.
--
--   certmint policy set allowed-domains.lua
--   [AllowedDomains.Policy]
--   domains = example.com, example.org
--   days = 30
local domains = {}
local days

local function allowed(name)
	name = name:lower()
	for _, d in ipairs(domains) do
		if name == d or name:sub(-(#d + 1)) == "." .. d then
			return true
		end
	end
	return false
end

return {
	name = "AllowedDomains.Policy",
	description = "names only in the allowed domains",
	threading = "concurrent",
	initialize = function(config, srv)
		for d in (srv:config("domains") or ""):gmatch("[^,%s]+") do
			domains[#domains + 1] = d:lower()
		end
		if #domains == 0 then
			return nil, "set domains = the allowed DNS domains"
		end
		days = tonumber(srv:config("days") or "")
	end,
	verify_request = function(srv, new_request)
		local names = {}
		local cn = srv:request_property("Request.CommonName")
		if cn then
			names[#names + 1] = cn
		end
		local san = srv:certificate_extension("2.5.29.17")
		if san then
			for _, n in ipairs(certmint.parse_san(san)) do
				names[#names + 1] = n
			end
		end
		for _, n in ipairs(names) do
			if not allowed(n) then
				return "deny", n .. " is outside the allowed domains"
			end
		end
		if new_request and srv:request_attribute("Review") == "yes" then
			return "pend", "held for an officer's review"
		end
		if days then
			assert(srv:set_certificate_property("NotAfter",
			    os.time() + days * 86400))
		end
		return "issue"
	end,
}
