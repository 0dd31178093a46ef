/*
 * auth_x509.c - a client certificate's purpose and names (auth_x509.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "auth_x509.h"

int
auth_cert_for_client(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509	*x;
	int	 ok;

	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return 0;
	ok = X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0) == 1;
	X509_free(x);
	return ok;
}

/* Append s to the comma-separated list *list; one with a comma is left out. */
static void
list_add(char **list, const char *s)
{
	char	*n;

	if (*list == NULL || strchr(s, ',') != NULL ||
	    asprintf(&n, "%s%s%s", *list, **list != '\0' ? "," : "", s) == -1)
		return;
	free(*list);
	*list = n;
}

char *
auth_cert_names(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509		*x;
	X509_NAME	*subj;
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*g;
	unsigned char	*utf8;
	static const int nids[] = { NID_commonName, NID_pkcs9_emailAddress };
	char		*list, ip[INET6_ADDRSTRLEN];
	size_t		 n;
	int		 i;

	if ((list = strdup("")) == NULL ||
	    (x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return list;
	subj = X509_get_subject_name(x);
	for (n = 0; n < sizeof(nids) / sizeof(nids[0]); n++)
		for (i = -1; (i = X509_NAME_get_index_by_NID(subj, nids[n],
		    i)) >= 0;) {
			if (ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
			    X509_NAME_get_entry(subj, i))) < 0)
				continue;
			list_add(&list, (char *)utf8);
			OPENSSL_free(utf8);
		}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS || g->type == GEN_EMAIL)
			list_add(&list, (const char *)ASN1_STRING_get0_data(
			    g->type == GEN_DNS ? g->d.dNSName :
			    g->d.rfc822Name));
		else if (g->type == GEN_IPADD &&
		    (ASN1_STRING_length(g->d.iPAddress) == 4 ||
		    ASN1_STRING_length(g->d.iPAddress) == 16) && inet_ntop(
		    ASN1_STRING_length(g->d.iPAddress) == 4 ? AF_INET :
		    AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), ip,
		    sizeof(ip)) != NULL)
			list_add(&list, ip);
	}
	GENERAL_NAMES_free(gens);
	X509_free(x);
	return list;
}
