package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ProtonAvailable reports whether Debian's python3-qpid-proton, the
// library the reference's rhmsg wraps, can be imported.
func ProtonAvailable() error { return pythonImports("proton.utils", "python3-qpid-proton") }

// ProtonPeer is an AMQP 1.0 client written with python3-qpid-proton: a
// sender that sends what it is given and reports the broker's outcome, or
// a receiver that reports and accepts every message of an address.
type ProtonPeer struct {
	cmd     *exec.Cmd
	mu      sync.Mutex // serialises Send
	stdin   io.WriteCloser
	replies chan string
	msgs    chan ProtonMessage
	stderr  *lockedBuffer
}

// ProtonMessage is what a receiver peer saw of one message.
type ProtonMessage struct {
	Body        string         `json:"body"`
	BodyKind    string         `json:"body_kind"` // "data" or "value"
	ContentType string         `json:"content_type"`
	Durable     bool           `json:"durable"`
	Address     string         `json:"address"`
	Properties  map[string]any `json:"properties"`
}

const protonPeerScript = `import json, sys
from proton import Message
from proton.utils import BlockingConnection

mode, url, address = sys.argv[1], sys.argv[2], sys.argv[3]
conn = BlockingConnection(url, timeout=30, allowed_mechs="PLAIN ANONYMOUS", allow_insecure_mechs=True)
if mode == "send":
    senders = {address: conn.create_sender(address)}
    print("ready", flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        durable = req.get("durable", True)
        props = req.get("properties") or None
        if req.get("value"):
            msg = Message(body=req["body"], durable=durable, properties=props)
        else:
            msg = Message(body=req["body"].encode(), inferred=True, durable=durable,
                          content_type="application/json", properties=props)
        try:
            addr = req.get("address") or address
            if addr not in senders:
                senders[addr] = conn.create_sender(addr)
            senders[addr].send(msg)
            print("ok", flush=True)
        except Exception as e:
            print("error " + str(e).replace("\n", " "), flush=True)
else:
    rcv = conn.create_receiver(address, credit=16)
    print("ready", flush=True)
    while True:
        msg = rcv.receive(timeout=None)
        body = msg.body
        kind = "data" if msg.inferred else "value"
        if isinstance(body, (bytes, memoryview)):
            body = bytes(body).decode()
        print(json.dumps({"body": body, "body_kind": kind, "content_type": msg.content_type or "",
                          "durable": bool(msg.durable), "address": msg.address or "",
                          "properties": msg.properties or {}}), flush=True)
        rcv.accept()
`

// StartProtonSender connects a sending peer to address on the broker at
// url ("amqp://guest:guest@127.0.0.1:PORT").
func StartProtonSender(ctx context.Context, dir, url, address string) (*ProtonPeer, error) {
	return startProton(ctx, dir, "send", url, address)
}

// StartProtonReceiver connects a receiving peer to address.
func StartProtonReceiver(ctx context.Context, dir, url, address string) (*ProtonPeer, error) {
	return startProton(ctx, dir, "receive", url, address)
}

func startProton(ctx context.Context, dir string, args ...string) (*ProtonPeer, error) {
	if err := ProtonAvailable(); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "protonpeer.py")
	if err := os.WriteFile(script, []byte(protonPeerScript), 0o644); err != nil {
		return nil, err
	}
	p := &ProtonPeer{
		replies: make(chan string, 1),
		msgs:    make(chan ProtonMessage, 1024),
		stderr:  &lockedBuffer{},
	}
	cmd := exec.Command(SystemPython, append([]string{script}, args...)...)
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.cmd, p.stdin = cmd, stdin
	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		defer close(p.msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		first := true
		for sc.Scan() {
			if first {
				first = false
				close(ready)
				continue
			}
			if args[0] == "send" {
				p.replies <- sc.Text()
				continue
			}
			var m ProtonMessage
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.msgs <- m
			}
		}
	}()
	select {
	case <-ready:
		return p, nil
	case <-exited:
		_ = cmd.Wait()
		return nil, fmt.Errorf("proton peer exited: %s", p.stderr.String())
	case <-ctx.Done():
		p.Stop()
		return nil, fmt.Errorf("proton peer did not start: %w: %s", ctx.Err(), p.stderr.String())
	}
}

// Send sends one durable message and waits for the broker's outcome: as
// a data section, or as an AMQP string value (how rhmsg sends a Python
// str).
func (p *ProtonPeer) Send(body string, asValue bool) error {
	return p.SendMessage(ProtonOut{Body: body, Value: asValue, Durable: true})
}

// ProtonOut is one message for SendMessage.
type ProtonOut struct {
	// Address, when set, is where the message goes instead of the
	// peer's address (a sender link of its own, opened once).
	Address string
	Body    string
	// Value sends Body as an AMQP string value, as rhmsg and Koji's
	// protonmsg plugin do; else it is a data section.
	Value   bool
	Durable bool
	// Properties are the message's application properties.
	Properties map[string]any
}

// SendMessage sends one message and waits for the broker's outcome.
func (p *ProtonPeer) SendMessage(m ProtonOut) error {
	line, err := json.Marshal(map[string]any{"body": m.Body, "value": m.Value, "durable": m.Durable,
		"address": m.Address, "properties": m.Properties})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return err
	}
	select {
	case r := <-p.replies:
		if r != "ok" {
			return errors.New(r)
		}
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("proton peer gave no answer: %s", p.stderr.String())
	}
}

// Received delivers each message a receiver peer gets.
func (p *ProtonPeer) Received() <-chan ProtonMessage { return p.msgs }

// Stop ends the peer.
func (p *ProtonPeer) Stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// lockedBuffer collects a process's stderr for error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
