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
		req.status_code = STATUS_POLICY_DENIED;
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
ca_import(struct ca *ca, const unsigned char *data, size_t len,
    const char *officer, struct ca_result *res)
{
	struct db_request req;
	struct db_cert	 cert, existing;
	struct cert_info info;
	struct wjob	 job = { 0 };
	struct store	*st;
	unsigned char	*der = NULL;
	size_t		 derlen;
	char		 err[256];
	int		 rc;

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
	pthread_rwlock_rdlock(&ca->cfg_lock);
	rc = cert_check_issued_by(&ca->signer, der, derlen, err, sizeof(err));
	pthread_rwlock_unlock(&ca->cfg_lock);
	if (rc == -1) {
		ca_fail(res, CA_E_BADREQ, "certificate %s was not issued by this CA: "
		    "%s", info.serial, err);
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
 * Renew the certificate serial (AD CS: a renewal request): a new
 * certificate for the same key, from the request it was issued for (or
 * csr, which must be for the same key), through the policy and the
 * profile like any submission, with the old one's attributes and
 * RenewalOf naming it; exit modules read it as RawOldCertificate. The
 * certificate must be issued, not revoked.
 */
int
ca_renew(struct ca *ca, const char *serial, const unsigned char *csr,
    size_t csrlen, const char *requester, const char *caller,
    struct ca_result *res)
{
	struct ca_result old;
	struct db_request req;
	struct db_attr	*attrs = NULL;
	struct csr	 parsed;
	char		 err[256];
	size_t		 i, n = 0;
	int		 rc = -1, profile = 0;

	memset(&old, 0, sizeof(old));
	memset(res, 0, sizeof(*res));
	if (ca_load_by_serial(ca, serial, &req, &old) == -1) {
		*res = old;
		return -1;
	}
	if (req.disposition != CM_DISP_ISSUED) {
		ca_fail(res, CA_E_CONFLICT, "certificate %s is %s: only an issued "
		    "certificate is renewed", old.cert.serial,
		    disposition_name(req.disposition));
		goto out;
	}
	if (csr == NULL) {
		if (req.request_type != CR_IN_PKCS10 || req.raw_request == NULL) {
			ca_fail(res, CA_E_CONFLICT, "certificate %s has no "
			    "PKCS#10 request to renew from", old.cert.serial);
			goto out;
		}
		csr = req.raw_request;
		csrlen = req.raw_request_len;
	} else {
		/* Proof of the old key: the request is signed with it. */
		if (csr_parse(csr, csrlen, &parsed, err, sizeof(err)) == -1) {
			ca_fail(res, CA_E_BADREQ, "%s", err);
			goto out;
		}
		rc = spki_cert_same_key(parsed.spki, parsed.spki_len,
		    old.cert.raw, old.cert.raw_len);
		csr_free(&parsed);
		if (rc != 1) {
			rc = -1;
			ca_fail(res, CA_E_DENIED, "the request is not for the key "
			    "of certificate %s", old.cert.serial);
			goto out;
		}
		rc = -1;
	}
	attrs = xcalloc(req.nattrs + 2, sizeof(*attrs));
	for (i = 0; i < req.nattrs; i++) {
		if (attr_name_eq(req.attrs[i].name, "RenewalOf"))
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
