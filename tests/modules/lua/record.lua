-- LuaRecord.Exit: the Lua twin of tests/modules/recording.c. One line per
-- notify, in the same format, so that lua.sh can compare what a script
-- reads with what a C module reads in the same run.
local out

local function prop(srv, cert, name, key, binary)
	local v
	if cert then
		v = srv:certificate_property(name)
	else
		v = srv:request_property(name)
	end
	if v == nil then
		return " " .. key .. "=-"
	end
	if binary then
		v = #v
	end
	return " " .. key .. "=" .. tostring(v)
end

return {
	name = "LuaRecord.Exit",
	description = "records what a script reads",
	threading = "serial",
	initialize = function(config, srv)
		out = srv:config("output")
		if not out then
			return nil, "LuaRecord.Exit: no output file"
		end
	end,
	notify = function(event, context, srv)
		local line = string.format("event=0x%x context=%d", event, context)
		line = line .. prop(srv, false, "EventSequence", "seq")
		line = line .. prop(srv, false, "EventTime", "time")
		if context ~= 0 then
			line = line .. prop(srv, false, "Disposition", "disp")
			line = line .. prop(srv, false, "RequestID", "reqid")
			line = line .. prop(srv, true, "SerialNumber", "serial")
			line = line .. prop(srv, true, "Subject.CommonName", "cn")
			line = line .. " attr_certfile=" ..
			    (srv:request_attribute("CertFile") or "-")
		else
			line = line .. " catype=" .. (srv:ca_property("CAType") or "-")
			local idx = srv:ca_property("CRLIndex")
			line = line .. " crlindex=" .. (idx or "-")
			local crl = idx and srv:ca_property("RawCRL." .. idx)
			line = line .. " rawcrl_len=" .. (crl and #crl or "-")
		end
		local ok, why = certmint.append_file(out, line .. " types=ok\n")
		if not ok then
			return nil, why
		end
		return true
	end,
}
