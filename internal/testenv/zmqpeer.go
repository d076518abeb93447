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
)

// SystemPython is Debian's Python, which sees Debian's python3-zmq and
// python3-pika (another python3 first on PATH may not).
const SystemPython = "/usr/bin/python3"

// ZMQAvailable reports whether Debian's python3-zmq can be imported.
func ZMQAvailable() error { return pythonImports("zmq", "python3-zmq") }

// pythonImports reports whether SystemPython can import module, which
// Debian's package pkg installs.
func pythonImports(module, pkg string) error {
	out, err := exec.Command(SystemPython, "-c", "import "+module).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", pkg, err, out)
	}
	return nil
}

// ZMQPeer is a ZeroMQ program written with python3-zmq: a PUB socket bound
// to an endpoint that sends what it is given, or a SUB socket that
// reports what it receives. It stands for fedmsg's own Python peers.
type ZMQPeer struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []string
	script string
	args   []string
}

const zmqPeerScript = `import json, sys, zmq
ctx = zmq.Context()
if sys.argv[1] == "pub":
    s = ctx.socket(zmq.PUB)
    s.setsockopt(zmq.LINGER, 2000)
    s.bind(sys.argv[2])
    print("ready", flush=True)
    for line in sys.stdin:
        topic, body = json.loads(line)
        s.send_multipart([topic.encode(), body.encode()])
    s.close()
else:
    s = ctx.socket(zmq.SUB)
    s.connect(sys.argv[2])
    s.setsockopt_string(zmq.SUBSCRIBE, sys.argv[3])
    print("ready", flush=True)
    while True:
        frames = s.recv_multipart()
        print(json.dumps([f.decode() for f in frames]), flush=True)
`

// StartZMQPublisher binds a python3-zmq PUB socket to endpoint
// ("tcp://127.0.0.1:PORT"), with its script written under dir.
func StartZMQPublisher(ctx context.Context, dir, endpoint string) (*ZMQPeer, error) {
	return startZMQPeer(ctx, dir, "pub", endpoint)
}

// StartZMQSubscriber connects a python3-zmq SUB socket to endpoint,
// subscribed to topic (a prefix; "" for everything).
func StartZMQSubscriber(ctx context.Context, dir, endpoint, topic string) (*ZMQPeer, error) {
	return startZMQPeer(ctx, dir, "sub", endpoint, topic)
}

func startZMQPeer(ctx context.Context, dir string, args ...string) (*ZMQPeer, error) {
	if err := ZMQAvailable(); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "zmqpeer.py")
	if err := os.WriteFile(script, []byte(zmqPeerScript), 0o644); err != nil {
		return nil, err
	}
	p := &ZMQPeer{script: script, args: args}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Start starts a stopped peer again with the same endpoint.
func (p *ZMQPeer) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("zmq peer already running")
	}
	cmd := exec.Command(SystemPython, append([]string{p.script}, p.args...)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	lines := make(chan []string, 1024)
	ready := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		first := true
		for sc.Scan() {
			if first {
				first = false
				close(ready)
				continue
			}
			var frames []string
			if json.Unmarshal(sc.Bytes(), &frames) == nil {
				lines <- frames
			}
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("zmq peer did not start: %w", ctx.Err())
	}
	p.cmd, p.stdin, p.lines = cmd, stdin, lines
	return nil
}

// Send publishes one message (publisher peers).
func (p *ZMQPeer) Send(topic string, body []byte) error {
	line, err := json.Marshal([]string{topic, string(body)})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdin == nil {
		return errors.New("zmq peer stopped")
	}
	_, err = p.stdin.Write(append(line, '\n'))
	return err
}

// Received delivers the frames of each message a subscriber peer receives.
func (p *ZMQPeer) Received() <-chan []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines
}

// Stop ends the peer at once, as a crash or a restart would.
func (p *ZMQPeer) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd, p.stdin = nil, nil
}
