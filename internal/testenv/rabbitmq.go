package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// RabbitMQServer is the server script that Debian's rabbitmq-server
// package installs; called directly, unlike /usr/sbin/rabbitmq-server,
// which switches to the rabbitmq user.
const RabbitMQServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// RabbitMQ is an isolated RabbitMQ node of its own (AMQP and STOMP on free
// loopback ports, its own epmd, data and logs in a directory of the
// caller's), for tests that restart or kill a broker. The machine's
// RabbitMQ is never touched.
type RabbitMQ struct {
	Dir string
	// AMQPURL is amqp://guest:guest@127.0.0.1:<port>/; STOMPAddr is
	// host:port of its STOMP plugin.
	AMQPURL, STOMPAddr string

	node      string
	amqpAddr  string
	epmdPort  int
	distPort  int
	amqpPort  int
	stompPort int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// RabbitMQAvailable reports whether the server script is installed.
func RabbitMQAvailable() error {
	if _, err := os.Stat(RabbitMQServer); err != nil {
		return err
	}
	_, err := exec.LookPath("epmd")
	return err
}

// StartRabbitMQ starts a node under dir and waits until its AMQP and STOMP
// ports accept connections (6-14 s).
func StartRabbitMQ(ctx context.Context, dir string) (*RabbitMQ, error) {
	if err := RabbitMQAvailable(); err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	r := &RabbitMQ{
		Dir:      dir,
		amqpPort: ports[0], stompPort: ports[1], distPort: ports[2], epmdPort: ports[3],
	}
	r.node = fmt.Sprintf("mts-test-%d@localhost", r.amqpPort)
	r.amqpAddr = fmt.Sprintf("127.0.0.1:%d", r.amqpPort)
	r.AMQPURL = "amqp://guest:guest@" + r.amqpAddr + "/"
	r.STOMPAddr = fmt.Sprintf("127.0.0.1:%d", r.stompPort)
	for _, d := range []string{"mnesia", "log", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[rabbitmq_stomp].\n"), 0o644); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("listeners.tcp.1 = 127.0.0.1:%d\nstomp.listeners.tcp.1 = 127.0.0.1:%d\nloopback_users = none\n",
		r.amqpPort, r.stompPort)
	if err := os.WriteFile(filepath.Join(dir, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := r.Start(ctx); err != nil {
		r.killEpmd()
		return nil, err
	}
	return r, nil
}

func (r *RabbitMQ) env() []string {
	return append(os.Environ(),
		"HOME="+filepath.Join(r.Dir, "home"),
		"RABBITMQ_NODENAME="+r.node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(r.amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(r.distPort),
		"ERL_EPMD_PORT="+strconv.Itoa(r.epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_MNESIA_BASE="+filepath.Join(r.Dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(r.Dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(r.Dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(r.Dir, "rabbitmq.conf"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(r.Dir, "rabbitmq-env.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(r.Dir, "advanced.config"),
		"RABBITMQ_PID_FILE="+filepath.Join(r.Dir, "rabbitmq.pid"),
	)
}

// Start starts the node (again, after Stop or Kill), keeping its data.
func (r *RabbitMQ) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return errors.New("rabbitmq: already running")
	}
	cmd := exec.Command(RabbitMQServer)
	cmd.Env = r.env()
	cmd.Dir = r.Dir
	out, err := os.OpenFile(filepath.Join(r.Dir, "server.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rabbitmq: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.cmd, r.done = cmd, done
	for _, addr := range []string{r.amqpAddr, r.STOMPAddr} {
		if err := waitPort(ctx, addr, done); err != nil {
			r.stopLocked(syscall.SIGKILL)
			log, _ := os.ReadFile(filepath.Join(r.Dir, "server.out"))
			return fmt.Errorf("rabbitmq node %s on %s: %w\n%s", r.node, addr, err, log)
		}
	}
	return nil
}

// Stop shuts the node down cleanly (SIGTERM) and waits for it.
func (r *RabbitMQ) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked(syscall.SIGTERM)
}

// Kill ends the node abruptly.
func (r *RabbitMQ) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked(syscall.SIGKILL)
}

// Restart stops the node and starts it again with the same data.
func (r *RabbitMQ) Restart(ctx context.Context) error {
	r.Stop()
	return r.Start(ctx)
}

// Close stops the node and the epmd it started, which would otherwise
// outlive it.
func (r *RabbitMQ) Close() {
	r.Stop()
	r.killEpmd()
}

func (r *RabbitMQ) stopLocked(sig syscall.Signal) {
	if r.cmd == nil {
		return
	}
	// The script runs the Erlang VM as a child: signal the whole group.
	_ = syscall.Kill(-r.cmd.Process.Pid, sig)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	}
	r.cmd = nil
}

func (r *RabbitMQ) killEpmd() {
	cmd := exec.Command("epmd", "-port", strconv.Itoa(r.epmdPort), "-kill")
	cmd.Env = r.env()
	_ = cmd.Run()
}
