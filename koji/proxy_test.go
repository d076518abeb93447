package koji_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/internal/wire"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestApacheClientCertificates runs the client against Apache httpd with
// mod_ssl in front of the stand-in hub, in both ways hubs ask for client
// certificates.
func TestApacheClientCertificates(t *testing.T) {
	hub := newHub(t)
	cert, key := hub.ServerCertFiles()
	proxy := testenv.StartHubProxy(t, testenv.HubProxyOptions{
		Backend: hub.Backend(), ServerCert: cert, ServerKey: key, ClientCA: hub.CAFile(),
	})
	other := kojitest.NewCA(t, "some other CA")
	expired := hub.CA().ClientCert("mts", kojitest.ClientCertOpts{
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
	})
	good := hub.ClientCertFile("mts")

	tests := []struct {
		name     string
		server   string
		cert     string
		serverCA string
		wantTLS  bool // refused in a TLS handshake
	}{
		{"per-location renegotiation", proxy.LocationURL, good, hub.CAFile(), false},
		{"whole host", proxy.WholeHostURL, good, hub.CAFile(), false},
		{"certificate from another CA, per-location", proxy.LocationURL, other.ClientCert("mts", kojitest.ClientCertOpts{}), hub.CAFile(), true},
		{"certificate from another CA, whole host", proxy.WholeHostURL, other.ClientCert("mts", kojitest.ClientCertOpts{}), hub.CAFile(), true},
		{"expired certificate", proxy.LocationURL, expired, hub.CAFile(), true},
		{"wrong serverca", proxy.LocationURL, good, other.File(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, &koji.Config{
				Server: tt.server, ServerCA: tt.serverCA, AuthType: "ssl", Cert: tt.cert,
				Timeout: 10 * time.Second, MaxRetries: 1, RetryInterval: 10 * time.Millisecond,
			})
			ctx := ctxT(t)
			u, err := c.GetLoggedInUser(ctx)
			if tt.wantTLS {
				var te *koji.TLSError
				if !errors.As(err, &te) || koji.Retryable(err) || !koji.IsAuthError(err) {
					t.Fatalf("err = %v, want a non-retryable TLS refusal during login\napache: %s", err, proxy.Log())
				}
				return
			}
			if err != nil {
				t.Fatalf("GetLoggedInUser: %v\napache: %s", err, proxy.Log())
			}
			if u.Name != "mts" {
				t.Fatalf("user = %+v", u)
			}
			if _, err := c.TagBuild(ctx, tagName, nvr); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetTag(ctx, tagName); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("anonymous read through the per-location host", func(t *testing.T) {
		c := newClient(t, &koji.Config{Server: proxy.LocationURL, ServerCA: hub.CAFile(), Timeout: 10 * time.Second})
		if _, err := c.GetBuild(ctxT(t), nvr); err != nil {
			t.Fatal(err)
		}
	})

	// Raw requests show what a naive client meets.
	pair, err := tls.LoadX509KeyPair(good, good)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(hub.CAFile())
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	post := func(t *testing.T, url string, cfg *tls.Config, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		body, _ := wire.EncodeCall("sslLogin")
		req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, url, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		defer hc.CloseIdleConnections()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	t.Run("TLS 1.3 login on per-location host is refused", func(t *testing.T) {
		resp, _ := post(t, proxy.LocationURL+"/ssllogin", &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status = %s, want 403 (no post-handshake auth in Go)", resp.Status)
		}
	})
	t.Run("sslLogin on the hub URL gets no certificate", func(t *testing.T) {
		_, body := post(t, proxy.LocationURL, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}, nil)
		var v any
		err := wire.DecodeResponse(body, &v)
		var f *wire.Fault
		if !errors.As(err, &f) || f.Code != 1002 || f.String != "could not verify client: None" {
			t.Fatalf("answer = %v, want fault 1002", err)
		}
	})
	for _, tc := range []struct{ name, url string }{
		{"forged CN header through Apache", proxy.LocationURL},
		{"forged CN header on the direct TLS listener", hub.URL()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := post(t, tc.url, &tls.Config{RootCAs: roots}, map[string]string{
				kojitest.HeaderClientCN: "admin", kojitest.HeaderRemoteUser: "admin@MTS.TEST",
			})
			var v any
			if err := wire.DecodeResponse(body, &v); !strings.Contains(errString(err), "1002") {
				t.Fatalf("answer = %v %v, want fault 1002", v, err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestDirectWholeHostTLS13 runs the client against the stand-in alone with
// certificates demanded in every (TLS 1.3) handshake.
func TestDirectWholeHostTLS13(t *testing.T) {
	hub := newHub(t, kojitest.WithWholeHostClientCert())
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	if _, err := c.TagBuild(ctx, tagName, nvr); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBuild(ctx, nvr); err != nil {
		t.Fatal(err)
	}
	anon := newClient(t, &koji.Config{Server: hub.URL(), ServerCA: hub.CAFile(), Timeout: 5 * time.Second})
	_, err := anon.GetBuild(ctx, nvr)
	var te *koji.TLSError
	if !errors.As(err, &te) {
		t.Fatalf("anonymous call without a certificate: %v, want TLS refusal", err)
	}
}

// TestKerberosLogin logs in with SPNEGO against Apache mod_auth_gssapi and
// a real MIT KDC.
func TestKerberosLogin(t *testing.T) {
	kdc := testenv.StartKDC(t, testenv.KDCOptions{})
	kdc.AddPrincipal(t, "mts", "")
	kdc.AddPrincipal(t, "HTTP/localhost", "")
	stale := kdc.Keytab(t, "mts")
	keytab := kdc.Keytab(t, "mts") // new key: the first keytab is now stale
	httpKT := kdc.Keytab(t, "HTTP/localhost")

	hub := newHub(t)
	cert, key := hub.ServerCertFiles()
	proxy := testenv.StartHubProxy(t, testenv.HubProxyOptions{
		Backend: hub.Backend(), ServerCert: cert, ServerKey: key, ClientCA: hub.CAFile(),
		Keytab: httpKT, Env: kdc.Env,
	})
	cfg := func(kt string) *koji.Config {
		return &koji.Config{
			Server: proxy.GSSAPIURL, ServerCA: hub.CAFile(), AuthType: "kerberos",
			Principal: kdc.Principal("mts"), Keytab: kt,
			Timeout: 10 * time.Second, MaxRetries: 1, RetryInterval: 10 * time.Millisecond,
		}
	}
	t.Run("keytab", func(t *testing.T) {
		c := newClient(t, cfg(keytab), koji.WithKrb5Config(kdc.KRB5Config))
		ctx := ctxT(t)
		u, err := c.GetLoggedInUser(ctx)
		if err != nil {
			t.Fatalf("%v\napache: %s", err, proxy.Log())
		}
		if u.Name != "mts" || c.AuthMethod() != "kerberos" {
			t.Fatalf("user = %+v via %s", u, c.AuthMethod())
		}
		if _, err := c.TagBuild(ctx, tagName, nvr); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("several sessions log in at once", func(t *testing.T) {
		c := newClient(t, cfg(keytab), koji.WithKrb5Config(kdc.KRB5Config), koji.WithSessions(3))
		ctx := ctxT(t)
		before := hub.Sessions()
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if u, err := c.GetLoggedInUser(ctx); err != nil || u.Name != "mts" {
					t.Errorf("user = %+v, %v\napache: %s", u, err, proxy.Log())
				}
			})
		}
		wg.Wait()
		if got := hub.Sessions() - before; got != 3 {
			t.Errorf("%d sessions opened, want 3", got)
		}
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("keytab from the service config overrides authtype", func(t *testing.T) {
		base := &koji.Config{Server: proxy.GSSAPIURL, ServerCA: hub.CAFile(), AuthType: "ssl", Cert: "/nonexistent", Timeout: 10 * time.Second}
		c := newClient(t, base, koji.WithKeytab(kdc.Principal("mts"), keytab), koji.WithKrb5Config(kdc.KRB5Config))
		if err := c.Login(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("credential cache from kinit", func(t *testing.T) {
		kinit, err := exec.LookPath("kinit")
		if err != nil {
			testenv.Missing(t, "kinit (Debian package krb5-user)")
		}
		cc := filepath.Join(t.TempDir(), "ccache")
		cmd := exec.Command(kinit, "-k", "-t", keytab, kdc.Principal("mts"))
		cmd.Env = append(os.Environ(), append(kdc.Env, "KRB5CCNAME=FILE:"+cc)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kinit: %v\n%s", err, out)
		}
		t.Setenv("KRB5CCNAME", "FILE:"+cc)
		c := newClient(t, cfg(""), koji.WithKrb5Config(kdc.KRB5Config))
		u, err := c.GetLoggedInUser(ctxT(t))
		if err != nil || u.Name != "mts" {
			t.Fatalf("user = %+v, %v", u, err)
		}
	})
	t.Run("no credential cache", func(t *testing.T) {
		t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(t.TempDir(), "none"))
		c := newClient(t, cfg(""), koji.WithKrb5Config(kdc.KRB5Config))
		if err := c.Login(ctxT(t)); err == nil || !strings.Contains(err.Error(), "run kinit") {
			t.Fatalf("err = %v, want advice to run kinit", err)
		}
	})
	t.Run("stale keytab", func(t *testing.T) {
		c := newClient(t, cfg(stale), koji.WithKrb5Config(kdc.KRB5Config))
		err := c.Login(ctxT(t))
		var ke *koji.KerberosError
		if !errors.As(err, &ke) || !koji.IsAuthError(err) || !strings.Contains(err.Error(), "wrong key for") {
			t.Fatalf("err = %v, want a Kerberos error naming the keytab", err)
		}
		t.Logf("stale keytab: %v", err)
	})
	t.Run("clock skew", func(t *testing.T) {
		skewed := testenv.StartKDC(t, testenv.KDCOptions{ClockOffset: "+2h"})
		skewed.AddPrincipal(t, "mts", "")
		kt := skewed.Keytab(t, "mts")
		c := newClient(t, cfg(kt), koji.WithKrb5Config(skewed.KRB5Config))
		err := c.Login(ctxT(t))
		if !errors.Is(err, koji.ErrClockSkew) || !strings.Contains(err.Error(), "synchronise the clocks") {
			t.Fatalf("err = %v, want a clock skew explanation", err)
		}
		t.Logf("clock skew: %v", err)
	})
}
