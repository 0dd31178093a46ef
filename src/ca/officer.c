/*
 * officer.c - a CA officer's actions on requests (resubmit a pending or
 * denied request, deny one, import a certificate) and a client's
 * retrieve.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca_int.h"
#include "json.h"

int
ca_resubmit(struct ca *ca, int64_t id, const char *officer,
    struct ca_result *res)
{
	struct db_request req;
	struct db_cert	 cert;
	struct csr	 csr;
	struct policy_decision d;
	struct wjob	 job = { 0 };
	char		 err[256], msg[300];
	int		 rc;

	memset(res, 0, sizeof(*res));
	memset(&cert, 0, sizeof(cert));
	memset(&csr, 0, sizeof(csr));
	memset(&d, 0, sizeof(d));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (ca_load_request(ca, id, &req, res) == -1)
		return -1;
	if (req.disposition != CM_DISP_PENDING &&
	    req.disposition != CM_DISP_DENIED) {
		ca_fail(res, CA_E_CONFLICT, "request %" PRId64 " is %s: only pending "
		    "or denied requests can be resubmitted", id,
		    disposition_name(req.disposition));
		db_request_free(&req);
		return -1;
	}
	if (req.request_type != CR_IN_PKCS10 || req.raw_request == NULL ||
	    csr_parse(req.raw_request, req.raw_request_len, &csr, err,
	    sizeof(err)) == -1) {
		ca_fail(res, CA_E_CONFLICT, "request %" PRId64 " holds no valid "
		    "PKCS#10 request to resubmit", id);
		db_request_free(&req);
		return -1;
	}
	job.kind = WJOB_UPDATE;
	job.req = &req;
	job.expect = req.disposition;

	pthread_rwlock_rdlock(&ca->cfg_lock);
	rc = ca_policy_verify(ca, &csr, &req, 0, &d);
	if (rc == 0 && d.vr == CM_VR_INSTANT_OK) {
		free(req.profile);
		req.profile = xstrdup(d.profile->name);
		if (ca_issue_cert(ca, &csr, &d, &req, &cert) == -1)
			rc = -1;
		else {
			snprintf(msg, sizeof(msg), "Resubmitted by %s", officer);
			req.disposition = CM_DISP_ISSUED;
			req.status_code = 0;
			ca_req_set_message(&req, msg);
			req.resolved_when = time_now();
			job.cert = &cert;
			job.event = CM_EXITEVENT_CERTISSUED;
		}
	} else if (rc == 0 && d.vr == CM_VR_PENDING) {
		/* AD CS: a policy that pends a resubmission leaves it as is. */
		pthread_rwlock_unlock(&ca->cfg_lock);
		csr_free(&csr);
		policy_decision_free(&d);
		db_request_free(&req);
		return ca_fail(res, CA_E_CONFLICT, "the policy module left request "
		    "%" PRId64 " pending", id);
	} else if (rc == 0) {
		req.disposition = CM_DISP_DENIED;
		req.status_code = d.status != 0 ? d.status :
		    STATUS_POLICY_DENIED;
		ca_req_set_message(&req, d.message);
		req.resolved_when = time_now();
		job.event = CM_EXITEVENT_CERTDENIED;
	}
	if (rc == -1) {
		pthread_rwlock_unlock(&ca->cfg_lock);
		csr_free(&csr);
		policy_decision_free(&d);
		db_request_free(&req);
		return ca_fail(res, CA_E_INTERNAL, "cannot issue the certificate "
		    "(see the daemon's log)");
	}
	rc = ca_run_job(ca, &job, &csr, &d);
	pthread_rwlock_unlock(&ca->cfg_lock);
	csr_free(&csr);
	policy_decision_free(&d);
	if (ca_result_from_job(ca, res, rc, &req, job.cert) == -1)
		return -1;
	if (res->req.disposition == CM_DISP_DENIED)
		return ca_fail(res, CA_E_DENIED, "%s", res->req.disposition_message);
	return 0;
}

int
ca_deny(struct ca *ca, int64_t id, const char *officer, struct ca_result *res)
{
	struct db_request req;
	struct wjob	 job = { 0 };
	char		 msg[300];
	int		 rc;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (ca_load_request(ca, id, &req, res) == -1)
		return -1;
	if (req.disposition != CM_DISP_PENDING) {
		ca_fail(res, CA_E_CONFLICT, "request %" PRId64 " is %s: only pending "
		    "requests can be denied", id,
		    disposition_name(req.disposition));
		db_request_free(&req);
		return -1;
	}
	snprintf(msg, sizeof(msg), "Denied by %s", officer);
	req.disposition = CM_DISP_DENIED;
	req.status_code = STATUS_ADMIN_DENIED;
	ca_req_set_message(&req, msg);
	req.resolved_when = time_now();
	job.kind = WJOB_UPDATE;
	job.req = &req;
	job.expect = CM_DISP_PENDING;
	job.event = CM_EXITEVENT_CERTDENIED;
	rc = writer_run(ca->writer, &job);
	return ca_result_from_job(ca, res, rc, &req, NULL);
}

int
ca_certifies_own_key(struct ca *ca, const unsigned char *der, size_t len)
{
	struct cert_info a, b;
	char		 err[256];
	int		 i, own = 0;

	if (cert_info_parse(der, len, &a, err, sizeof(err)) == -1)
		return 0;
	pthread_rwlock_rdlock(&ca->cfg_lock);
	for (i = 0; !own && i < ca->signer.ncerts; i++) {
		if (cert_info_parse(ca->signer.certs[i].der,
		    ca->signer.certs[i].len, &b, err, sizeof(err)) == -1)
			continue;
		own = a.pubkey_len == b.pubkey_len &&
		    memcmp(a.pubkey, b.pubkey, a.pubkey_len) == 0;
		cert_info_free(&b);
	}
	pthread_rwlock_unlock(&ca->cfg_lock);
	cert_info_free(&a);
	return own;
}

int
ca_import(struct ca *ca, const unsigned char *data, size_t len,
    const char *officer, struct ca_result *res)
{
	struct db_request req;
	struct db_cert	 cert, existing;
	struct cert_info info;
	struct wjob	 job = { 0 };
	struct store	*st;
	unsigned char	*der = NULL;
	size_t		 derlen, i;
	char		 err[256], err2[256];
	int		 rc, ca_idx;

	memset(res, 0, sizeof(*res));
	memset(&info, 0, sizeof(info));
	memset(&existing, 0, sizeof(existing));
	if (atomic_load(&ca->stopping))
		return ca_fail(res, CA_E_SHUTDOWN, "the CA is shutting down");
	if (pem_or_der(data, len, "CERTIFICATE", &der, &derlen) == -1)
		return ca_fail(res, CA_E_BADREQ, "not a certificate (expected PEM "
		    "or DER)");
	if (cert_info_parse(der, derlen, &info, err, sizeof(err)) == -1) {
		free(der);
		return ca_fail(res, CA_E_BADREQ, "not a certificate: %s", err);
	}
	/*
	 * RFC 5280 4.1.2.2: positive, at most 20 octets. A CRL could not list
	 * another (the CA would confirm a revocation it never publishes).
	 */
	if (strspn(info.serial, "0") == strlen(info.serial) ||
	    strlen(info.serial) > 2 * SERIAL_LEN) {
		ca_fail(res, CA_E_BADREQ, "certificate %s: its serial number is "
		    "%s (RFC 5280: positive, at most 20 octets): no CRL could "
		    "list it", *info.serial ? info.serial : "0",
		    strlen(info.serial) > 2 * SERIAL_LEN ? "longer than 20 "
		    "octets" : "zero");
		goto fail;
	}
	/* By the current key or an older one whose CRLs the CA still signs. */
	pthread_rwlock_rdlock(&ca->cfg_lock);
	rc = cert_check_issued_by(&ca->signer, der, derlen, err, sizeof(err));
	ca_idx = ca->signer.cert_idx;
	for (i = 0; rc == -1 && i < ca->signer.nolder; i++) {
		ca_idx = ca->signer.older[i].cert_idx;
		rc = cert_check_issued_by(&ca->signer.older[i], der, derlen,
		    err2, sizeof(err2));
	}
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (rc == -1) {
		ca_fail(res, CA_E_BADREQ, "certificate %s was not issued by this CA: "
		    "%s", info.serial, err);
		goto fail;
	}
	if (ca_certifies_own_key(ca, der, derlen)) {
		ca_fail(res, CA_E_BADREQ, "certificate %s is a certificate of "
		    "this CA's own key, not one the CA issued to a subject",
		    info.serial);
		goto fail;
	}
	if ((st = ca_reader(ca)) != NULL &&
	    store_cert_by_serial(st, info.serial, &existing) == 0) {
		ca_fail(res, CA_E_CONFLICT, "certificate %s is already in the "
		    "database (request %" PRId64 ")", info.serial,
		    existing.request_id);
		db_cert_free(&existing);
		goto fail;
	}
	ca_req_new(ca, &req, officer, officer);
	req.request_type = CR_IN_IMPORT;
	req.disposition = CM_DISP_ISSUED;
	req.disposition_message = xstrdup("Imported");
	req.resolved_when = req.submitted_when;
	req.request_dn = xstrdup(info.subject_dn);
	req.request_raw_name = ca_memdup(info.subject, info.subject_len);
	req.request_raw_name_len = info.subject_len;
	ca_req_set_exts(&req, info.exts, info.nexts, NULL, 0,
	    CM_EXTENSION_ORIGIN_IMPORTEDCERT);
	ca_cert_row_fill(&cert, req.id, der, derlen, &info);
	cert.ca_idx = ca_idx;
	der = NULL;
	cert_info_free(&info);
	job.kind = WJOB_INSERT;
	job.req = &req;
	job.cert = &cert;
	job.event = CM_EXITEVENT_CERTIMPORTED;
	rc = writer_run(ca->writer, &job);
	if (rc == STORE_E_DUPLICATE) {
		ca_fail(res, CA_E_CONFLICT, "certificate %s is already in the "
		    "database", cert.serial);
		db_request_free(&req);
		db_cert_free(&cert);
		return -1;
	}
	return ca_result_from_job(ca, res, rc, &req, &cert);
fail:
	cert_info_free(&info);
	free(der);
	return -1;
}

int
ca_retrieve(struct ca *ca, int64_t id, struct ca_result *res)
{
	struct wjob	 job = { 0 };

	if (ca_get(ca, id, res) == -1)
		return -1;
	switch (res->req.disposition) {
	case CM_DISP_ISSUED:
	case CM_DISP_REVOKED:
		break;
	case CM_DISP_PENDING:
		return ca_fail(res, CA_E_CONFLICT, "request %" PRId64 " is still "
		    "pending", id);
	default:
		return ca_fail(res, CA_E_DENIED, "request %" PRId64 " was %s: %s", id,
		    disposition_name(res->req.disposition),
		    res->req.disposition_message ? res->req.disposition_message : "");
	}
	if (!res->has_cert)
		return ca_fail(res, CA_E_INTERNAL, "request %" PRId64 " has no "
		    "certificate", id);
	if (res->req.was_pending) {
		job.kind = WJOB_EVENT;
		job.context = id;
		job.event = CM_EXITEVENT_CERTRETRIEVEPENDING;
		if (atomic_load(&ca->stopping) ||
		    writer_run(ca->writer, &job) != 0)
			return ca_fail(res, CA_E_INTERNAL, "cannot record the "
			    "retrieval");
	}
	return 0;
}

/*
 * StatusCode of a renewal refused before its submission (AD CS's codes);
 * a bad request or signature has the submission's.
 */
#define STATUS_NOT_FOUND	((int32_t)0x80092004)	/* CRYPT_E_NOT_FOUND */
#define STATUS_REVOKED		((int32_t)0x80092010)	/* CRYPT_E_REVOKED */
#define STATUS_EXPIRED		((int32_t)0x800B0101)	/* CERT_E_EXPIRED */
#define STATUS_BAD_STATE	((int32_t)0x80094003)	/* CERTSRV_E_BAD_REQUESTSTATUS */
/* What a refused renewal keeps of its request, as ca.c of a submission. */
#define RENEW_RAW_MAX		8192

/*
 * Record a renewal by key refused before its submission (res holds the
 * refusal) as a refused submission is recorded: an error row with code,
 * the request as sent when small, RenewalOf and a CERTDENIED event. A
 * client's every attempt leaves a trace, a forged signature included.
 * res keeps the refusal and gets the row. Returns -1.
 */
static int
renew_refused(struct ca *ca, const char *serial, const unsigned char *csr,
    size_t csrlen, int32_t code, const char *requester, const char *caller,
    struct ca_result *res)
{
	struct db_request req;
	struct wjob	 job = { 0 };
	enum ca_status	 st = res->status;
	char		 msg[sizeof(res->error)], norm[130];
	int		 rc;

	if (st == CA_E_SHUTDOWN || atomic_load(&ca->stopping))
		return -1;
	snprintf(msg, sizeof(msg), "%s", res->error);
	ca_result_free(res);
	ca_req_new(ca, &req, requester, caller);
	if (csr != NULL && csrlen <= RENEW_RAW_MAX &&
	    (req.raw_request = ca_memdup(csr, csrlen)) != NULL)
		req.raw_request_len = csrlen;
	if (serial != NULL && hex_normalize(serial, norm, sizeof(norm)) == 0) {
		req.attrs = xcalloc(1, sizeof(*req.attrs));
		req.attrs[0].name = xstrdup("RenewalOf");
		req.attrs[0].value = xstrdup(norm);
		req.nattrs = 1;
	}
	req.disposition = CM_DISP_ERROR;
	req.status_code = code;
	req.resolved_when = req.submitted_when;
	ca_req_set_message(&req, msg);
	job.kind = WJOB_INSERT;
	job.req = &req;
	job.event = CM_EXITEVENT_CERTDENIED;
	rc = writer_run(ca->writer, &job);
	if (ca_result_from_job(ca, res, rc, &req, NULL) == -1)
		return -1;
	return ca_fail(res, st, "%s", msg);
}

/*
 * A renewal by the certificate's key proves who holds the key, not who
 * owns a name: the new request names only what the old certificate (or
 * the request it was issued for) did. Its subject is empty or theirs, and
 * each of its subjectAltNames is one of the certificate's. 0, or -1 with
 * res.
 */
static int
renew_names_check(const struct db_request *req, const struct db_cert *old,
    const struct csr *c, struct ca_result *res)
{
	struct cert_info info;
	const unsigned char *san = NULL;
	size_t		 i, sanlen = 0;
	char		 err[256];
	int		 rc = -1, within;

	if (cert_info_parse(old->raw, old->raw_len, &info, err,
	    sizeof(err)) == -1)
		return ca_fail(res, CA_E_INTERNAL, "certificate %s: %s",
		    old->serial, err);
	if (c->subject_dn[0] != '\0' && !(c->subject_len == info.subject_len &&
	    memcmp(c->subject, info.subject, c->subject_len) == 0) &&
	    !(req->request_raw_name != NULL &&
	    c->subject_len == req->request_raw_name_len &&
	    memcmp(c->subject, req->request_raw_name, c->subject_len) == 0)) {
		ca_fail(res, CA_E_DENIED, "a renewal by the key of certificate "
		    "%s keeps its subject (%s), or sends an empty one: the "
		    "request's is %s", old->serial, info.subject_dn,
		    c->subject_dn);
		goto out;
	}
	for (i = 0; i < info.nexts; i++)
		if (strcmp(info.exts[i].oid, "2.5.29.17") == 0) {
			san = info.exts[i].value;
			sanlen = info.exts[i].len;
		}
	if ((within = csr_sans_within(c, san, sanlen, err, sizeof(err))) != 1) {
		if (within == -1)
			ca_fail(res, CA_E_INTERNAL, "certificate %s: %s",
			    old->serial, err);
		else
			ca_fail(res, CA_E_DENIED, "a renewal by the key of "
			    "certificate %s names only what it names: %s is "
			    "not one of its subjectAltNames", old->serial, err);
		goto out;
	}
	rc = 0;
out:
	cert_info_free(&info);
	return rc;
}

/*
 * May certificate old (its request req) be renewed from *csr as proof
 * allows (ca_renew)? With no csr, an officer's renewal takes req's own.
 * Returns 0 with *csr set, or -1 with res and *code (the StatusCode to
 * record) set; *proven says whether the request's key was proven to be
 * the old one's or vouched for by it before the refusal.
 */
static int
renew_check(const struct db_request *req, const struct db_cert *old,
    const unsigned char **csr, size_t *csrlen,
    const struct ca_renew_proof *proof, int32_t *code, int *proven,
    struct ca_result *res)
{
	struct csr	 parsed;
	char		 err[256], ts[32];
	int		 same, rc = 0;

	*proven = 0;
	*code = STATUS_BAD_STATE;
	if (req->disposition != CM_DISP_ISSUED) {
		if (req->disposition == CM_DISP_REVOKED)
			*code = STATUS_REVOKED;
		return ca_fail(res, CA_E_CONFLICT, "certificate %s is %s: only "
		    "an issued certificate is renewed", old->serial,
		    disposition_name(req->disposition));
	}
	/* A key vouches for its holder only while its certificate does. */
	if (proof != NULL && old->not_after < time_now()) {
		time_format(old->not_after, ts);
		*code = STATUS_EXPIRED;
		return ca_fail(res, CA_E_CONFLICT, "certificate %s expired on "
		    "%s: only a valid certificate is renewed by its key",
		    old->serial, ts);
	}
	if (*csr == NULL) {
		*code = STATUS_ASN1_ERROR;
		/* Without a request signed by the key, nothing proves it. */
		if (proof != NULL)
			return ca_fail(res, CA_E_BADREQ, "no PKCS#10 request: a "
			    "renewal by the certificate's key sends one");
		if (req->request_type != CR_IN_PKCS10 ||
		    req->raw_request == NULL)
			return ca_fail(res, CA_E_CONFLICT, "certificate %s has no "
			    "PKCS#10 request to renew from", old->serial);
		*csr = req->raw_request;
		*csrlen = req->raw_request_len;
		return 0;
	}
	if (csr_parse(*csr, *csrlen, &parsed, err, sizeof(err)) == -1) {
		*code = strstr(err, "signature") != NULL ?
		    STATUS_BAD_SIGNATURE : STATUS_ASN1_ERROR;
		return ca_fail(res, CA_E_BADREQ, "%s", err);
	}
	/*
	 * The request's signature proves its own key: the old one, or a new
	 * one that the old key vouches for by signing the request. A
	 * signature given is checked even when the key is the same. The
	 * proof comes first: what a request names is judged (and its refusal
	 * recorded) only for whoever holds the key.
	 */
	*code = STATUS_BAD_SIGNATURE;
	same = spki_cert_same_key(parsed.spki, parsed.spki_len, old->raw,
	    old->raw_len);
	if (proof != NULL && proof->sig != NULL &&
	    cert_verify_data(old->raw, old->raw_len, parsed.der,
	    parsed.der_len, proof->sig, proof->siglen) != 1)
		rc = ca_fail(res, CA_E_DENIED, "the renewal signature is not "
		    "one by the key of certificate %s over this request",
		    old->serial);
	else if (same != 1 && (proof == NULL || proof->sig == NULL))
		rc = ca_fail(res, CA_E_DENIED, "the request is not for the key "
		    "of certificate %s%s", old->serial, proof == NULL ? "" :
		    " (a request for a new key must be signed by the old one)");
	else if (proof != NULL) {
		*proven = 1;
		if (renew_names_check(req, old, &parsed, res) == -1) {
			*code = STATUS_POLICY_DENIED;
			rc = -1;
		}
	}
	csr_free(&parsed);
	return rc;
}

/*
 * A requester's renewal refused (res) before the key proved anything:
 * recorded (renew_refused) only when proof->known, else CA_RENEW_UNPROVEN
 * and nothing written, or -1 for a refusal that is not the requester's
 * doing (internal, shutting down).
 */
static int
renew_unproven(struct ca *ca, const char *serial, const unsigned char *csr,
    size_t csrlen, int32_t code, const struct ca_renew_proof *proof,
    const char *requester, const char *caller, struct ca_result *res)
{
	if (proof->known)
		return renew_refused(ca, serial, csr, csrlen, code, requester,
		    caller, res);
	if (res->status == CA_E_INTERNAL || res->status == CA_E_SHUTDOWN)
		return -1;
	return CA_RENEW_UNPROVEN;
}

/*
 * Renew the certificate serial (AD CS: a renewal request): a new
 * certificate from the request it was issued for or from csr, through
 * the policy and the profile like any submission, with the old one's
 * attributes and RenewalOf naming it; exit modules read it as
 * RawOldCertificate. The certificate must be issued, not revoked; what
 * else is checked, and which refusals are recorded, depends on proof
 * (ca.h, renew_check).
 */
int
ca_renew(struct ca *ca, const char *serial, const unsigned char *csr,
    size_t csrlen, const struct ca_renew_proof *proof, const char *requester,
    const char *caller, struct ca_result *res)
{
	struct ca_result old;
	struct db_request req;
	struct db_attr	*attrs = NULL;
	const unsigned char *sent = csr;
	size_t		 i, n = 0, sentlen = csrlen;
	int32_t		 code;
	int		 rc = -1, profile = 0, proven;

	memset(&old, 0, sizeof(old));
	memset(res, 0, sizeof(*res));
	if (ca_load_by_serial(ca, serial, &req, &old) == -1) {
		*res = old;
		code = res->status == CA_E_NOTFOUND ? STATUS_NOT_FOUND :
		    res->status == CA_E_BADREQ ? STATUS_ASN1_ERROR :
		    STATUS_INTERNAL;
		return proof == NULL ? -1 : renew_unproven(ca, serial, sent,
		    sentlen, code, proof, requester, caller, res);
	}
	if (renew_check(&req, &old.cert, &csr, &csrlen, proof, &code,
	    &proven, res) == -1) {
		if (proof != NULL && proven)
			renew_refused(ca, serial, sent, sentlen, code,
			    requester, caller, res);
		else if (proof != NULL)
			rc = renew_unproven(ca, serial, sent, sentlen, code,
			    proof, requester, caller, res);
		goto out;
	}
	attrs = xcalloc(req.nattrs + 2, sizeof(*attrs));
	for (i = 0; i < req.nattrs; i++) {
		/* What certmint set on the old request is not the new one's. */
		if (ca_attr_reserved(&req.attrs[i], 1) != NULL)
			continue;
		profile |= attr_name_eq(req.attrs[i].name,
		    "CertificateTemplate") || attr_name_eq(req.attrs[i].name,
		    "Profile");
		attrs[n++] = req.attrs[i];
	}
	attrs[n].name = "RenewalOf";
	attrs[n++].value = old.cert.serial;
	/* The profile it was issued under, unless the request named it. */
	if (!profile && req.profile != NULL) {
		attrs[n].name = "CertificateTemplate";
		attrs[n++].value = req.profile;
	}
	rc = ca_submit(ca, csr, csrlen, attrs, n, requester, caller, res);
out:
	free(attrs);
	db_request_free(&req);
	ca_result_free(&old);
	return rc;
}
