package koji

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// krbAuth makes SPNEGO "Negotiate" headers for the hub's /ssllogin, from a
// keytab or from the user's credential cache.
type krbAuth struct {
	principal string
	keytab    string
	krb5conf  string

	mu sync.Mutex
	cl *client.Client
}

func (k *krbAuth) header(server string) (http.Header, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("hub URL: %w", err)
	}
	cl, err := k.client()
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequest(http.MethodPost, server, nil)
	if err := spnego.SetSPNEGOHeader(cl, req, "HTTP/"+u.Hostname()); err != nil {
		// A failed service ticket may come from a stale TGT: start over
		// on the next login.
		k.mu.Lock()
		k.cl = nil
		k.mu.Unlock()
		return nil, explainKrb(err, k.who())
	}
	return http.Header{"Authorization": req.Header.Values("Authorization")}, nil
}

func (k *krbAuth) who() string {
	if k.keytab != "" {
		return fmt.Sprintf("%s with keytab %s", k.principal, k.keytab)
	}
	return "the credential cache"
}

func (k *krbAuth) client() (*client.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cl != nil {
		return k.cl, nil
	}
	path := k.krb5conf
	if path == "" {
		path = os.Getenv("KRB5_CONFIG")
		if i := strings.IndexByte(path, ':'); i >= 0 {
			path = path[:i]
		}
	}
	if path == "" {
		path = "/etc/krb5.conf"
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("kerberos config %s: %w", path, err)
	}
	var cl *client.Client
	if k.keytab != "" {
		kt, err := keytab.Load(k.keytab)
		if err != nil {
			return nil, fmt.Errorf("keytab %s: %w", k.keytab, err)
		}
		user, realm, ok := strings.Cut(k.principal, "@")
		if !ok {
			realm = cfg.LibDefaults.DefaultRealm
		}
		cl = client.NewWithKeytab(user, realm, kt, cfg, client.DisablePAFXFAST(true))
		if err := cl.Login(); err != nil {
			return nil, explainKrb(err, k.who())
		}
	} else {
		path := os.Getenv("KRB5CCNAME")
		path = strings.TrimPrefix(path, "FILE:")
		if path == "" {
			path = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
		}
		cc, err := credentials.LoadCCache(path)
		if err != nil {
			return nil, fmt.Errorf("no usable Kerberos credential cache %s (run kinit, or configure a keytab): %w", path, err)
		}
		if cl, err = client.NewFromCCache(cc, cfg, client.DisablePAFXFAST(true)); err != nil {
			return nil, explainKrb(err, k.who())
		}
	}
	k.cl = cl
	return cl, nil
}

// explainKrb turns gokrb5's error texts into messages that say what to fix.
// gokrb5 flattens KDC errors into strings, so the codes are matched by name.
func explainKrb(err error, who string) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "KRB_AP_ERR_SKEW"), strings.Contains(strings.ToLower(msg), "clock skew"):
		return &KerberosError{Reason: fmt.Sprintf("clock skew too great: this host's clock (%s) differs from the KDC's by more than the allowed skew; synchronise the clocks (NTP)", time.Now().UTC().Format(time.RFC3339)), Err: err}
	case strings.Contains(msg, "KDC_ERR_PREAUTH_FAILED"), strings.Contains(msg, "KRB_AP_ERR_BAD_INTEGRITY"),
		strings.Contains(msg, "integrity verification failed"), strings.Contains(msg, "Matching key not found in keytab"):
		return &KerberosError{Reason: fmt.Sprintf("wrong key for %s (password or keytab out of date)", who), Err: err}
	case strings.Contains(msg, "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		return &KerberosError{Reason: fmt.Sprintf("the KDC does not know the client principal (%s)", who), Err: err}
	case strings.Contains(msg, "KDC_ERR_S_PRINCIPAL_UNKNOWN"):
		return &KerberosError{Reason: "the KDC does not know the hub's service principal HTTP/<host>", Err: err}
	case strings.Contains(msg, "KDC_ERR_KEY_EXPIRED"):
		return &KerberosError{Reason: fmt.Sprintf("the password of %s has expired", who), Err: err}
	}
	return &KerberosError{Reason: "kerberos authentication as " + who + " failed", Err: err}
}

// KerberosError is a failed Kerberos step before the hub is contacted.
type KerberosError struct {
	Reason string
	Err    error
}

func (e *KerberosError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *KerberosError) Unwrap() error { return e.Err }

// ErrClockSkew can be matched with errors.Is on a KerberosError caused by
// clock skew.
var ErrClockSkew = errors.New("kerberos clock skew too great")

// Is lets errors.Is(err, ErrClockSkew) work.
func (e *KerberosError) Is(target error) bool {
	return target == ErrClockSkew && strings.HasPrefix(e.Reason, "clock skew")
}
