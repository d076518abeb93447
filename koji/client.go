package koji

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedora-modularity/mts/koji/internal/wire"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// maxResponse bounds a response body read into memory; Koji answers for
// the calls made here are far smaller.
const maxResponse = 64 << 20

// MaxSessions bounds WithSessions.
const MaxSessions = 16

// Option configures a Client.
type Option func(*options)

type options struct {
	logger   *slog.Logger
	observer func(method string, d time.Duration, err error)
	// faultObserver counts the faults of calls inside a multiCall.
	faultObserver func(method string, err error)
	cert          string
	principal     string
	keytab        string
	krb5conf      string
	sessions      int
}

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithObserver registers fn, called once per hub call (a resend or a new
// login included in d) with the call's outcome, so that callers can export latency and
// faults by code (see FaultCode) under names of their own.
func WithObserver(fn func(method string, d time.Duration, err error)) Option {
	return func(o *options) { o.observer = fn }
}

// WithCert logs in with SSL using pemFile (certificate and key in one PEM
// file), whatever the profile's authtype says.
func WithCert(pemFile string) Option { return func(o *options) { o.cert = pemFile } }

// WithKeytab logs in with Kerberos as principal using keytab, whatever the
// profile's authtype says.
func WithKeytab(principal, keytab string) Option {
	return func(o *options) { o.principal, o.keytab = principal, keytab }
}

// WithSessions lets the client hold up to n hub sessions (1 to
// MaxSessions; 1 by default), each its own login with its own call
// numbers. Calls on one session still go one at a time, in order; calls
// on different sessions run in parallel, so a busy service can keep n
// authenticated calls in flight.
func WithSessions(n int) Option { return func(o *options) { o.sessions = n } }

// WithKrb5Config names the krb5.conf to use instead of $KRB5_CONFIG or
// /etc/krb5.conf.
func WithKrb5Config(path string) Option { return func(o *options) { o.krb5conf = path } }

// Client talks to one Koji hub. It is safe for concurrent use. Anonymous
// calls run in parallel; calls that need a session are sent one at a
// time on each session, because the hub may check that a session's call
// numbers arrive in order. See WithSessions.
type Client struct {
	cfg      Config
	authType string // "ssl", "kerberos" or "" (anonymous only)
	log      *slog.Logger
	observe  func(method string, d time.Duration, err error)
	// observeFault is the faultObserver, never nil.
	observeFault func(method string, err error)

	hc      *http.Client
	loginHC *http.Client
	krb     *krbAuth

	// idle holds the session slots no authenticated call is using. A call
	// holds its slot for the whole call (login, retries) so that the
	// slot's call numbers reach the hub in sequence.
	idle  chan *slot
	slots []*slot

	mu    sync.Mutex // guards the sess of every slot, and uid
	uid   int64      // the logged-in user's id, once known
	uname string     // and name

	// ids keeps the hub's ids of tags ("t:"+name) and builds
	// ("b:"+nvr) that TagStates looked up: every event looks twice at
	// the same two builds, and a module build's getBuild carries its
	// whole modulemd document.
	ids *expirable.LRU[string, int64]

	// view is what the client knows of our pending tagBuild tasks.
	view *taskView
}

// An NVR names one build for good; a tag name could be given to a new
// tag after the old one is deleted, so ids are forgotten after a while.
const (
	idCacheSize = 4096
	idCacheTTL  = 10 * time.Minute
)

// slot is one place for a session in the client's pool; it is empty
// until its first call logs in, and after the session was dropped.
type slot struct {
	sess *session
}

// session is a hub session. key grants access: it is never logged or put
// into an error.
type session struct {
	id      int64
	key     string
	callnum int64
}

// New returns a client for the hub of cfg. It does not contact the hub.
func New(cfg *Config, opts ...Option) (*Client, error) {
	if cfg == nil || cfg.Server == "" {
		return nil, &ConfigError{Key: "server", Msg: "no hub URL"}
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.sessions == 0 {
		o.sessions = 1
	}
	if o.sessions < 1 || o.sessions > MaxSessions {
		return nil, &ConfigError{Key: "sessions", Msg: fmt.Sprintf("%d sessions out of range 1..%d", o.sessions, MaxSessions)}
	}
	c := &Client{
		cfg:          *cfg,
		log:          o.logger,
		observe:      o.observer,
		observeFault: o.faultObserver,
		idle:         make(chan *slot, o.sessions),
		ids:          expirable.NewLRU[string, int64](idCacheSize, nil, idCacheTTL),
		view:         newTaskView(),
	}
	for range o.sessions {
		s := &slot{}
		c.slots = append(c.slots, s)
		c.idle <- s
	}
	c.cfg.Server = strings.TrimRight(c.cfg.Server, "/")
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.observeFault == nil {
		c.observeFault = func(string, error) {}
	}
	certFile := c.cfg.Cert
	switch {
	case o.cert != "":
		c.authType, certFile = "ssl", o.cert
	case o.keytab != "":
		c.authType = "kerberos"
		c.cfg.Principal, c.cfg.Keytab = o.principal, o.keytab
		if o.principal == "" {
			return nil, &ConfigError{Key: "principal", Msg: "a keytab needs a principal"}
		}
	case c.cfg.AuthType == "ssl", c.cfg.AuthType == "kerberos", c.cfg.AuthType == "gssapi":
		c.authType = c.cfg.AuthType
		if c.authType == "gssapi" {
			c.authType = "kerberos"
		}
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.cfg.NoSSLVerify}
	if c.cfg.ServerCA != "" {
		pem, err := os.ReadFile(c.cfg.ServerCA)
		if err != nil {
			return nil, &ConfigError{File: c.cfg.ServerCA, Key: "serverca", Msg: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{File: c.cfg.ServerCA, Key: "serverca", Msg: "no PEM certificate in file"}
		}
		tlsCfg.RootCAs = pool
	}
	if c.authType == "ssl" {
		if certFile == "" {
			return nil, &ConfigError{Key: "cert", Msg: "authtype ssl needs a client certificate"}
		}
		// Offered on every connection: hubs that ask for the certificate on
		// the whole host need it for every call, not only for the login.
		pair, err := tls.LoadX509KeyPair(certFile, certFile)
		if err != nil {
			return nil, &ConfigError{File: certFile, Key: "cert", Msg: "cannot load certificate and key: " + err.Error()}
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	c.hc = &http.Client{Transport: newTransport(tlsCfg), Timeout: c.cfg.Timeout}
	// Hubs that ask for the certificate only on /ssllogin renegotiate after
	// the request; TLS 1.3 has no renegotiation (only post-handshake auth,
	// which crypto/tls lacks), so the login connection stays on TLS 1.2.
	loginTLS := tlsCfg.Clone()
	loginTLS.MaxVersion = tls.VersionTLS12
	loginTLS.Renegotiation = tls.RenegotiateOnceAsClient
	loginTr := newTransport(loginTLS)
	loginTr.DisableKeepAlives = true
	c.loginHC = &http.Client{Transport: loginTr, Timeout: c.cfg.Timeout}
	if c.authType == "kerberos" {
		c.krb = &krbAuth{principal: c.cfg.Principal, keytab: c.cfg.Keytab, krb5conf: o.krb5conf}
	}
	return c, nil
}

func newTransport(tlsCfg *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 30 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
}

// AuthMethod returns how the client logs in: "ssl", "kerberos" or
// "anonymous".
func (c *Client) AuthMethod() string {
	if c.authType == "" {
		return "anonymous"
	}
	return c.authType
}

// Config returns the profile the client was made from.
func (c *Client) Config() *Config { return &c.cfg }

// Server returns the hub URL.
func (c *Client) Server() string { return c.cfg.Server }

// Close releases idle connections.
func (c *Client) Close() {
	c.hc.CloseIdleConnections()
	c.loginHC.CloseIdleConnections()
}

// request is one logical hub call.
type request struct {
	method string
	params []any
	auth   bool
	// noResend keeps the call from being sent again after a broken
	// connection: for calls that write, where the hub may have run the
	// first one (released hubs do not check call numbers).
	noResend bool
	// noRelogin skips the new login on an expired session (for logout,
	// where a new session would only be ended again).
	noRelogin bool
	// slot, when set, is the slot an authenticated call runs on, already
	// held by the caller; otherwise the call takes an idle one.
	slot *slot
}

// call runs r and decodes its result into out (nil to ignore it).
func (c *Client) call(ctx context.Context, r request, out any) error {
	start := time.Now()
	err := c.doCall(ctx, r, out)
	d := time.Since(start)
	if c.observe != nil {
		c.observe(r.method, d, err)
	}
	if err != nil {
		c.log.DebugContext(ctx, "koji call failed", "method", r.method, "duration", d, "error", err)
	} else {
		c.log.DebugContext(ctx, "koji call", "method", r.method, "duration", d)
	}
	return err
}

func (c *Client) doCall(ctx context.Context, r request, out any) error {
	body, err := wire.EncodeCall(r.method, r.params...)
	if err != nil {
		return fmt.Errorf("koji: encode %s: %w", r.method, err)
	}
	if r.auth {
		if c.authType == "" {
			return fmt.Errorf("koji: %s needs a login: %w", r.method, ErrNoCredentials)
		}
		if r.slot == nil {
			s, err := c.acquire(ctx)
			if err != nil {
				return err
			}
			defer c.release(s)
			r.slot = s
		}
	}
	var (
		sess     *session
		callnum  int64 = -1
		relogged bool
		resent   bool
	)
	for {
		err = nil
		if r.auth && sess == nil {
			sess, err = c.session(ctx, r.slot)
			callnum = -1
		}
		if err == nil {
			if r.auth && callnum < 0 {
				callnum = c.nextCallnum(sess)
			}
			var data []byte
			data, err = c.post(ctx, c.hc, c.cfg.Server, body, sess, callnum, nil)
			if err == nil {
				err = decode(r.method, data, out)
			}
		}
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return err
		case r.auth && sess != nil && !relogged && !r.noRelogin && HasCode(err, CodeAuthExpired, CodeAuthError):
			// The session expired or the hub forgot it: one new login.
			c.log.InfoContext(ctx, "koji session no longer valid, logging in again", "method", r.method, "fault", FaultCode(err))
			relogged = true
			c.dropSession(r.slot, sess)
			sess = nil
			continue
		case brokenConnection(err) && !resent && !r.noResend:
			// The connection broke: the hub may or may not have seen the
			// call. Once more with the same call number, which is what
			// belongs to one call; anything longer is the caller's to
			// decide.
			c.log.InfoContext(ctx, "koji connection broken, sending the call once more", "method", r.method, "error", err)
			resent = true
			continue
		}
		return err
	}
}

// brokenConnection reports a call whose connection failed, as opposed to a
// hub that answered.
func brokenConnection(err error) bool {
	var te *TransportError
	var dns *net.DNSError
	return errors.As(err, &te) && !errors.As(err, &dns)
}

func decode(method string, data []byte, out any) error {
	if out == nil {
		var ignore any
		out = &ignore
	}
	err := wire.DecodeResponse(data, out)
	if err == nil {
		return nil
	}
	var wf *wire.Fault
	if errors.As(err, &wf) {
		return &Fault{Code: wf.Code, String: wf.String}
	}
	return fmt.Errorf("koji: bad answer to %s: %w", method, err)
}

// post sends one XML-RPC body and returns the answer's body.
func (c *Client) post(ctx context.Context, hc *http.Client, url string, body []byte, sess *session, callnum int64, hdr http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("koji: %w", err)
	}
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("User-Agent", "mts-koji-client")
	for k, v := range hdr {
		req.Header[k] = v
	}
	if sess != nil {
		req.Header.Set("Koji-Session-Id", strconv.FormatInt(sess.id, 10))
		req.Header.Set("Koji-Session-Key", sess.key)
		req.Header.Set("Koji-Session-Callnum", strconv.FormatInt(callnum, 10))
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("koji: %w", ctx.Err())
		}
		return nil, classifyNetError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, &TransportError{Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, Body: snippet(data)}
	}
	return data, nil
}

// TLSError is a TLS handshake refusal: an untrusted or expired client
// certificate, or a hub certificate that serverca does not vouch for.
// Trying again cannot help.
type TLSError struct {
	Err error
}

func (e *TLSError) Error() string { return "koji TLS: " + e.Err.Error() }
func (e *TLSError) Unwrap() error { return e.Err }

func classifyNetError(err error) error {
	var (
		alert  tls.AlertError
		verify *tls.CertificateVerificationError
		unk    x509.UnknownAuthorityError
		inv    x509.CertificateInvalidError
		host   x509.HostnameError
	)
	if errors.As(err, &alert) || errors.As(err, &verify) || errors.As(err, &unk) || errors.As(err, &inv) || errors.As(err, &host) {
		return &TLSError{Err: err}
	}
	// Alerts received from the server (unknown CA, expired or missing
	// certificate, failed renegotiation) come as an unexported type whose
	// text is all there is to go by.
	if strings.Contains(err.Error(), "remote error: tls: ") {
		return &TLSError{Err: err}
	}
	return &TransportError{Err: err}
}

// snippet returns the readable start of an error page.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// acquire takes an idle slot, waiting for one while all are in use.
func (c *Client) acquire(ctx context.Context) (*slot, error) {
	select {
	case s := <-c.idle:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Client) release(s *slot) { c.idle <- s }

// nextCallnum is only called by the holder of the session's slot.
func (c *Client) nextCallnum(s *session) int64 {
	n := s.callnum
	s.callnum++
	return n
}

func (c *Client) dropSession(sl *slot, s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sl.sess == s {
		sl.sess = nil
	}
}

// session returns the slot's session, logging in when it has none. The
// caller holds sl.
func (c *Client) session(ctx context.Context, sl *slot) (*session, error) {
	c.mu.Lock()
	s := sl.sess
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := c.login(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	sl.sess = s
	c.mu.Unlock()
	return s, nil
}

// LoggedIn reports whether the client holds a session.
func (c *Client) LoggedIn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.slots {
		if s.sess != nil {
			return true
		}
	}
	return false
}

// Login opens a new session now, in place of the session of the next
// idle slot; calls that need one log in by themselves, so this is only
// needed to check credentials early.
func (c *Client) Login(ctx context.Context) error {
	if c.authType == "" {
		return ErrNoCredentials
	}
	sl, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer c.release(sl)
	start := time.Now()
	s, err := c.login(ctx)
	if c.observe != nil {
		c.observe("sslLogin", time.Since(start), err)
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	sl.sess = s
	c.mu.Unlock()
	return nil
}

type loginAnswer struct {
	ID         int64  `xmlrpc:"session-id"`
	Key        string `xmlrpc:"session-key"`
	HeaderAuth bool   `xmlrpc:"header-auth"`
}

func (c *Client) login(ctx context.Context) (*session, error) {
	var (
		body []byte
		hdr  http.Header
		hc   = c.loginHC
		err  error
	)
	switch c.authType {
	case "ssl":
		body, err = wire.EncodeCall("sslLogin")
	case "kerberos":
		body, err = wire.EncodeCall("sslLogin", nil) // proxyuser=None
		if err == nil {
			hdr, err = c.krb.header(c.cfg.Server)
		}
		if err != nil {
			return nil, &LoginError{Method: c.authType, Err: err}
		}
		hc = c.hc
	default:
		return nil, ErrNoCredentials
	}
	if err != nil {
		return nil, &LoginError{Method: c.authType, Err: err}
	}
	data, err := c.post(ctx, hc, c.cfg.Server+"/ssllogin", body, nil, -1, hdr)
	var ans loginAnswer
	if err == nil {
		err = decode("sslLogin", data, &ans)
	}
	if err == nil && (ans.ID == 0 || ans.Key == "") {
		err = errors.New("hub answered without a session")
	}
	if err != nil {
		return nil, &LoginError{Method: c.authType, Err: err}
	}
	c.log.InfoContext(ctx, "logged in to koji", "server", c.cfg.Server, "method", c.authType, "session_id", ans.ID)
	return &session{id: ans.ID, key: ans.Key}, nil
}

// Logout ends every session the client holds. It waits for the calls
// running on them to finish first.
func (c *Client) Logout(ctx context.Context) error {
	if !c.LoggedIn() {
		return nil
	}
	held := make([]*slot, 0, len(c.slots))
	defer func() {
		for _, s := range held {
			c.release(s)
		}
	}()
	for range c.slots {
		s, err := c.acquire(ctx)
		if err != nil {
			return err
		}
		held = append(held, s)
	}
	var errs []error
	for _, s := range held {
		c.mu.Lock()
		open := s.sess != nil
		c.mu.Unlock()
		if !open {
			continue
		}
		err := c.call(ctx, request{method: "logout", auth: true, noRelogin: true, slot: s}, nil)
		c.mu.Lock()
		s.sess = nil
		c.mu.Unlock()
		if err != nil && !HasCode(err, CodeAuthExpired, CodeAuthError) {
			// An expired or unknown session is gone either way.
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
