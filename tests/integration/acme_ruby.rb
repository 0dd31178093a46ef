# acme_ruby.rb - Ruby's acme-client (Debian's 2.0.9, unmodified) through a
# whole order, as GitLab's Let's Encrypt integration drives it: account,
# an order of two names by http-01 (token files under WEBROOT, which the
# test serves), finalize with the library's own CSR (it writes CSR
# version 2), download, revoke, account update and deactivation.
# Usage: ruby acme_ruby.rb DIRECTORY_URL WEBROOT CERT_OUT
# Prints one "step|result" line per step; an exception ends it (exit 1).
require 'acme-client'
require 'fileutils'
require 'openssl'

dir, webroot, out = ARGV
client = Acme::Client.new(private_key: OpenSSL::PKey::EC.generate('prime256v1'),
                          directory: dir)
acct = client.new_account(contact: 'mailto:rb@certmint.test',
                          terms_of_service_agreed: true)
puts "account|#{acct.status}"
names = ['rb.certmint.test', 'rb2.certmint.test']
order = client.new_order(identifiers: names)
order.authorizations.each do |a|
  ch = a.http
  path = File.join(webroot, ch.filename)
  FileUtils.mkdir_p(File.dirname(path))
  File.write(path, ch.file_content)
  ch.request_validation
  40.times do
    break unless %w[pending processing].include?(ch.status)
    sleep 0.25
    ch.reload
  end
  puts "authz #{a.domain}|#{ch.status}"
end
csr = Acme::Client::CertificateRequest.new(
  private_key: OpenSSL::PKey::RSA.new(2048),
  subject: { common_name: names[0] }, names: names)
puts "csr version|#{csr.csr.version}"
order.finalize(csr: csr)
40.times do
  break unless order.status == 'processing'
  sleep 0.25
  order.reload
end
puts "order|#{order.status}"
pem = order.certificate
File.write(out, pem)
leaf = OpenSSL::X509::Certificate.new(pem)
puts "revoke|#{client.revoke(certificate: leaf.to_pem, reason: 1)}"
acct = client.account
acct.update(contact: 'mailto:rb2@certmint.test')
puts "update|#{client.account.contact.join(',')}"
acct.deactivate
puts "deactivate|#{acct.status}"
