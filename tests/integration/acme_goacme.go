// acme_goacme.go - Go's golang.org/x/crypto/acme (Debian's 0.4.0,
// unmodified; cert-manager's ACME client is a fork of it) through a whole
// order, as cert-manager's ACME issuer drives it: an ECDSA P-256 account
// registered with the terms agreed, an order of two names by http-01
// (key authorizations written under WEBROOT, which the test serves),
// finalize with a CSR of another key, the chain downloaded (and again by
// its URL), revocation by the account (and none by its key given in the
// certificate key's form), the account read, updated and deactivated.
// Usage: acme_goacme DIRECTORY_URL CA_PEM WEBROOT CERT_OUT
// Prints one "step|result" line per step; an error ends it (exit 1).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
)

func fail(step string, err error) {
	fmt.Printf("%s|error\n", step)
	fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr,
			"usage: acme_goacme DIRECTORY_URL CA_PEM WEBROOT CERT_OUT")
		os.Exit(2)
	}
	dir, caFile, webroot, out := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	// Every request and every wait below is bounded by this.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		fail("ca", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		fail("ca", errors.New("no certificate in "+caFile))
	}
	hc := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
		},
	}

	akey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail("account key", err)
	}
	client := &acme.Client{Key: akey, DirectoryURL: dir, HTTPClient: hc,
		UserAgent: "certmint-test-goacme"}

	acct, err := client.Register(ctx,
		&acme.Account{Contact: []string{"mailto:go@certmint.test"}},
		acme.AcceptTOS)
	if err != nil {
		fail("account", err)
	}
	fmt.Printf("account|%s\n", acct.Status)

	names := []string{"go.certmint.test", "go2.certmint.test"}
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		fail("new order", err)
	}
	fmt.Printf("new order|%s\n", order.Status)

	for _, u := range order.AuthzURLs {
		z, err := client.GetAuthorization(ctx, u)
		if err != nil {
			fail("authz "+u, err)
		}
		step := "authz " + z.Identifier.Value
		if z.Status != acme.StatusPending {
			fail(step, fmt.Errorf("status %q, not pending", z.Status))
		}
		var ch *acme.Challenge
		for _, c := range z.Challenges {
			if c.Type == "http-01" {
				ch = c
			}
		}
		if ch == nil {
			fail(step, errors.New("no http-01 challenge"))
		}
		body, err := client.HTTP01ChallengeResponse(ch.Token)
		if err != nil {
			fail(step, err)
		}
		path := filepath.Join(webroot,
			filepath.FromSlash(client.HTTP01ChallengePath(ch.Token)))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fail(step, err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			fail(step, err)
		}
		if _, err := client.Accept(ctx, ch); err != nil {
			fail(step, err)
		}
		z, err = client.WaitAuthorization(ctx, z.URI)
		if err != nil {
			fail(step, err)
		}
		fmt.Printf("%s|%s\n", step, z.Status)
	}

	order, err = client.WaitOrder(ctx, order.URI)
	if err != nil {
		fail("order", err)
	}
	fmt.Printf("order|%s\n", order.Status)

	ckey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail("csr", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: names[0]},
			DNSNames: names}, ckey)
	if err != nil {
		fail("csr", err)
	}
	der, certURL, err := client.CreateOrderCert(ctx, order.FinalizeURL, csr,
		true)
	if err != nil {
		fail("finalize", err)
	}
	fmt.Printf("finalize|%d\n", len(der))
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil {
		fail("finalize", err)
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(&ckey.PublicKey) {
		fail("finalize", errors.New("the certificate is not of the CSR's key"))
	}
	var pemOut []byte
	for _, b := range der {
		pemOut = append(pemOut,
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})...)
	}
	if err := os.WriteFile(out, pemOut, 0o644); err != nil {
		fail("finalize", err)
	}
	// cert-manager fetches again by the certificate URL when it recovers.
	again, err := client.FetchCert(ctx, certURL, true)
	if err != nil {
		fail("fetch", err)
	}
	fmt.Printf("fetch|%d\n", len(again))

	// RevokeCert with the account key given signs with it in the "jwk"
	// form, which RFC 8555 6.2 keeps for the certificate's own key: the
	// CA must refuse it. With none given, it signs as the account
	// ("kid"), as cert-manager would.
	err = client.RevokeCert(ctx, akey, der[0], acme.CRLReasonKeyCompromise)
	var ae *acme.Error
	if !errors.As(err, &ae) {
		fail("revoke by jwk", fmt.Errorf("no ACME error: %v", err))
	}
	fmt.Printf("revoke by jwk|%d %s\n", ae.StatusCode, ae.ProblemType)
	if err := client.RevokeCert(ctx, nil, der[0],
		acme.CRLReasonKeyCompromise); err != nil {
		fail("revoke", err)
	}
	fmt.Println("revoke|true")

	acct, err = client.GetReg(ctx, "")
	if err != nil {
		fail("get account", err)
	}
	fmt.Printf("get account|%s|%s\n", acct.Status,
		strings.Join(acct.Contact, ","))
	acct.Contact = []string{"mailto:go2@certmint.test"}
	if _, err := client.UpdateReg(ctx, acct); err != nil {
		fail("update", err)
	}
	acct, err = client.GetReg(ctx, "")
	if err != nil {
		fail("update", err)
	}
	fmt.Printf("update|%s\n", strings.Join(acct.Contact, ","))

	if err := client.DeactivateReg(ctx); err != nil {
		fail("deactivate", err)
	}
	fmt.Println("deactivate|true")
	// RFC 8555 7.3.6: a deactivated account's requests get 401
	// unauthorized.
	_, err = client.GetReg(ctx, "")
	if !errors.As(err, &ae) {
		fail("after deactivation", fmt.Errorf("no ACME error: %v", err))
	}
	fmt.Printf("after deactivation|%d %s\n", ae.StatusCode, ae.ProblemType)
}
