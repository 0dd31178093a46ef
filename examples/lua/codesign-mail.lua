-- codesign-mail.lua: mail the security team when a code-signing
-- certificate is issued, over SMTP with certmint.mail (the mail module's
-- message and SMTP code), which must be allowed.
--
--   [CodeSignMail.Exit]
--   allow = smtp
--   to = security@example.com
--   from = ca@example.com
--   server = mail.example.com
--   port = 25                      ; the default
--   tls = starttls                 ; the default; or none, tls
--   ca_file = /etc/ssl/certs/mail-ca.pem  ; optional
local conf = {}
-- id-kp-codeSigning (1.3.6.1.5.5.7.3.3) as DER OID contents
local CODE_SIGNING = "\x2b\x06\x01\x05\x05\x07\x03\x03"

return {
	name = "CodeSignMail.Exit",
	description = "mails the security team about code-signing certificates",
	events = { "CERTISSUED" },
	threading = "concurrent",
	initialize = function(config, srv)
		conf.to = srv:config("to")
		conf.from = srv:config("from") or "certmint@localhost"
		conf.server = srv:config("server")
		conf.port = tonumber(srv:config("port") or "25")
		conf.tls = srv:config("tls") or "starttls"
		conf.ca_file = srv:config("ca_file")
		if not conf.to or not conf.server then
			return nil, "set to = the security team's address and " ..
			    "server = the SMTP server"
		end
	end,
	notify = function(event, context, srv)
		local eku = srv:certificate_extension("2.5.29.37")
		if not eku or not eku:find(CODE_SIGNING, 1, true) then
			return true
		end
		local der = srv:certificate_property("RawCertificate")
		local c = certmint.parse_certificate(der)
		local ok, why = certmint.mail({
			server = conf.server, port = conf.port, tls = conf.tls,
			ca_file = conf.ca_file, from = conf.from, to = conf.to,
			subject = "code-signing certificate issued: " .. c.subject,
			body = table.concat({
				"Subject:    " .. c.subject,
				"Serial:     " .. c.serial,
				"Requester:  " ..
				    (srv:request_property("RequesterName") or "?"),
				"Not after:  " ..
				    os.date("!%Y-%m-%d %H:%M:%SZ", c.not_after),
				"SHA-256:    " .. c.sha256,
				"",
				certmint.pem(der),
			}, "\n"),
		})
		if not ok then
			return nil, why
		end
		return true
	end,
}
