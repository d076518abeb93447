package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// RabbitMQAMQP10 is an isolated RabbitMQ node with the AMQP 1.0 plugin:
// AMQP 0-9-1 and 1.0 share a plain listener (SASL PLAIN as guest/guest,
// or ANONYMOUS, which the plugin maps to guest) and a TLS listener that
// requires a client certificate signed by PKI's CA and offers SASL
// EXTERNAL, mapping the certificate's common name ("mts") to a user.
type RabbitMQAMQP10 struct {
	*RabbitMQ
	// Addr is host:port of the plain listener, TLSAddr of the TLS one
	// (its certificate names localhost and 127.0.0.1).
	Addr, TLSAddr string
	PKI           *PKI
	// CertUser is the user the client certificate logs in as.
	CertUser string
}

// StartRabbitMQAMQP10 writes the node's configuration and certificates
// under dir and starts it.
func StartRabbitMQAMQP10(ctx context.Context, dir string) (*RabbitMQAMQP10, error) {
	if err := RabbitMQAvailable(); err != nil {
		return nil, err
	}
	pki, err := NewPKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	r := &RabbitMQ{
		Dir:      dir,
		amqpPort: ports[0], stompPort: ports[1], distPort: ports[2], epmdPort: ports[3],
	}
	r.node = fmt.Sprintf("mts-amqp10-%d@localhost", r.amqpPort)
	r.amqpAddr = fmt.Sprintf("127.0.0.1:%d", r.amqpPort)
	r.AMQPURL = "amqp://guest:guest@" + r.amqpAddr + "/"
	r.STOMPAddr = fmt.Sprintf("127.0.0.1:%d", r.stompPort)
	b := &RabbitMQAMQP10{
		RabbitMQ: r, Addr: r.amqpAddr, TLSAddr: fmt.Sprintf("127.0.0.1:%d", ports[4]),
		PKI: pki, CertUser: "mts",
	}
	for _, d := range []string{"mnesia", "log", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	plugins := "[rabbitmq_stomp,rabbitmq_amqp1_0,rabbitmq_auth_mechanism_ssl].\n"
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte(plugins), 0o644); err != nil {
		return nil, err
	}
	defs, err := b.definitions()
	if err != nil {
		return nil, err
	}
	defsFile := filepath.Join(dir, "definitions.json")
	if err := os.WriteFile(defsFile, defs, 0o600); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`listeners.tcp.1 = %s
listeners.ssl.1 = %s
stomp.listeners.tcp.1 = %s
loopback_users = none
load_definitions = %s
ssl_options.cacertfile = %s
ssl_options.certfile = %s
ssl_options.keyfile = %s
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_cert_login_from = common_name
auth_mechanisms.1 = EXTERNAL
auth_mechanisms.2 = PLAIN
auth_mechanisms.3 = AMQPLAIN
amqp1_0.default_user = guest
`, r.amqpAddr, b.TLSAddr, r.STOMPAddr, defsFile, pki.CACert, pki.ServerCert, pki.ServerKey)
	if err := os.WriteFile(filepath.Join(dir, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := b.Start(ctx); err != nil {
		r.killEpmd()
		return nil, err
	}
	return b, nil
}

// Start starts the node (again) and waits for its TLS listener as well.
func (b *RabbitMQAMQP10) Start(ctx context.Context) error {
	if err := b.RabbitMQ.Start(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	return waitPort(ctx, b.TLSAddr, done)
}

// Restart stops the node and starts it again with the same data.
func (b *RabbitMQAMQP10) Restart(ctx context.Context) error {
	b.Stop()
	return b.Start(ctx)
}

// definitions are the users the node starts with: guest (password guest)
// and the certificate's user, which has no password.
func (b *RabbitMQAMQP10) definitions() ([]byte, error) {
	guestHash, err := passwordHash("guest")
	if err != nil {
		return nil, err
	}
	type user struct {
		Name      string `json:"name"`
		Hash      string `json:"password_hash"`
		Algorithm string `json:"hashing_algorithm"`
		Tags      string `json:"tags"`
	}
	type perm struct {
		User      string `json:"user"`
		VHost     string `json:"vhost"`
		Configure string `json:"configure"`
		Write     string `json:"write"`
		Read      string `json:"read"`
	}
	const algo = "rabbit_password_hashing_sha256"
	return json.Marshal(map[string]any{
		"users": []user{
			{Name: "guest", Hash: guestHash, Algorithm: algo, Tags: "administrator"},
			{Name: b.CertUser, Hash: "", Algorithm: algo},
		},
		"vhosts": []map[string]string{{"name": "/"}},
		"permissions": []perm{
			{User: "guest", VHost: "/", Configure: ".*", Write: ".*", Read: ".*"},
			{User: b.CertUser, VHost: "/", Configure: ".*", Write: ".*", Read: ".*"},
		},
	})
}

// passwordHash is RabbitMQ's SHA-256 password hash: base64 of a 4-byte
// salt followed by SHA-256(salt, password).
func passwordHash(password string) (string, error) {
	salt := make([]byte, 4)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(append([]byte{}, salt...), password...))
	return base64.StdEncoding.EncodeToString(append(salt, sum[:]...)), nil
}
