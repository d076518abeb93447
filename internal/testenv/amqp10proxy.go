package testenv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// AMQP10Proxy sits between an AMQP 1.0 client and a broker's plain
// listener to make the broker misbehave in ways a test needs every time:
// with Extra set, it adds Extra to the link credit of every flow frame the
// client sends, so the broker sends that many transfers more than the
// client granted (as RabbitMQ 3's AMQP 1.0 plugin does when its credit and
// its deliveries race); while held, nothing the broker sends reaches the
// client (a broker that withholds credit and dispositions). Everything else
// passes unchanged.
type AMQP10Proxy struct {
	// Addr is host:port to connect to instead of the broker.
	Addr  string
	Extra uint32
	// Rewritten counts the flow frames whose credit was raised.
	Rewritten atomic.Int64

	target string
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	held   bool
	resume chan struct{} // closed when a hold ends
}

// StartAMQP10Proxy listens on a loopback port and forwards to target,
// raising every flow's credit by extra.
func StartAMQP10Proxy(target string, extra uint32) (*AMQP10Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &AMQP10Proxy{Addr: ln.Addr().String(), Extra: extra, target: target, ln: ln}
	s.wg.Go(s.accept)
	return s, nil
}

// Hold stops (true) or resumes (false) passing what the broker sends.
func (s *AMQP10Proxy) Hold(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && !s.held:
		s.held, s.resume = true, make(chan struct{})
	case !on && s.held:
		s.held = false
		close(s.resume)
	}
}

// waitResumed blocks while the proxy is held.
func (s *AMQP10Proxy) waitResumed() {
	s.mu.Lock()
	held, resume := s.held, s.resume
	s.mu.Unlock()
	if held {
		<-resume
	}
}

// back copies what the broker sends, except while held.
func (s *AMQP10Proxy) back(client, broker net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := broker.Read(buf)
		if n > 0 {
			s.waitResumed()
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops listening and cuts every connection.
func (s *AMQP10Proxy) Close() {
	s.Hold(false)
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *AMQP10Proxy) accept() {
	for {
		client, err := s.ln.Accept()
		if err != nil {
			return
		}
		broker, err := net.Dial("tcp", s.target)
		if err != nil {
			client.Close()
			continue
		}
		s.mu.Lock()
		s.conns = append(s.conns, client, broker)
		s.mu.Unlock()
		s.wg.Go(func() {
			s.back(client, broker)
			client.Close()
		})
		s.wg.Go(func() {
			_ = s.forward(broker, bufio.NewReader(client))
			broker.Close()
		})
	}
}

// forward copies the client's side: protocol headers and SASL frames as
// they are, AMQP frames one by one, flow frames rewritten.
func (s *AMQP10Proxy) forward(w io.Writer, r *bufio.Reader) error {
	amqpLayer := false
	for {
		head, err := r.Peek(4)
		if err != nil {
			return err
		}
		if string(head) == "AMQP" {
			var hdr [8]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return err
			}
			amqpLayer = hdr[4] == 0
			if _, err := w.Write(hdr[:]); err != nil {
				return err
			}
			continue
		}
		size := binary.BigEndian.Uint32(head)
		if size < 8 {
			return fmt.Errorf("frame size %d", size)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(r, frame); err != nil {
			return err
		}
		if amqpLayer && frame[5] == 0 {
			if out, ok := s.rewriteFlow(frame); ok {
				frame = out
				s.Rewritten.Add(1)
			}
		}
		if _, err := w.Write(frame); err != nil {
			return err
		}
	}
}

// Type codes of the AMQP 1.0 encodings a flow frame's first fields use.
const (
	codeNull      = 0x40
	codeUint0     = 0x43
	codeSmallUint = 0x52
	codeUint      = 0x70
	codeList8     = 0xc0
	codeList32    = 0xd0
	flowCode      = 0x13
	linkCreditIdx = 6
)

var errNotFlow = errors.New("not a link flow")

// rewriteFlow returns the flow frame with its link credit raised by Extra,
// or false for any other frame (and for a session-only flow, which has no
// link credit).
func (s *AMQP10Proxy) rewriteFlow(frame []byte) ([]byte, bool) {
	doff := int(frame[4]) * 4
	body := frame[doff:]
	// Descriptor: 0x00, then the code as smallulong (0x53 n) or ulong.
	if len(body) < 3 || body[0] != 0 || body[1] != 0x53 || body[2] != flowCode {
		return nil, false
	}
	list := body[3:]
	var fields []byte
	var count int
	switch {
	case len(list) >= 3 && list[0] == codeList8:
		count, fields = int(list[2]), list[3:]
	case len(list) >= 9 && list[0] == codeList32:
		count, fields = int(binary.BigEndian.Uint32(list[5:9])), list[9:]
	default:
		return nil, false
	}
	if count <= linkCreditIdx {
		return nil, false
	}
	// Find the link credit: the fields before it are uints or null.
	off := 0
	var credit uint32
	var creditLen int
	for i := 0; i <= linkCreditIdx; i++ {
		v, n, err := readUint(fields[off:])
		if err != nil {
			return nil, false
		}
		if i == linkCreditIdx {
			if fields[off] == codeNull {
				return nil, false
			}
			credit, creditLen = v, n
			break
		}
		off += n
	}
	enc := make([]byte, 5)
	enc[0] = codeUint
	binary.BigEndian.PutUint32(enc[1:], credit+s.Extra)
	newFields := append(append(append([]byte{}, fields[:off]...), enc...), fields[off+creditLen:]...)
	// Re-encode as list32, whatever the size, then the frame header.
	newList := make([]byte, 9, 9+len(newFields))
	newList[0] = codeList32
	binary.BigEndian.PutUint32(newList[1:5], uint32(4+len(newFields)))
	binary.BigEndian.PutUint32(newList[5:9], uint32(count))
	newList = append(newList, newFields...)
	out := make([]byte, 0, doff+3+len(newList))
	out = append(out, frame[:doff]...)
	out = append(out, body[:3]...)
	out = append(out, newList...)
	binary.BigEndian.PutUint32(out[0:4], uint32(len(out)))
	return out, true
}

// readUint reads a uint or null field and its encoded length.
func readUint(b []byte) (uint32, int, error) {
	if len(b) == 0 {
		return 0, 0, errNotFlow
	}
	switch b[0] {
	case codeNull, codeUint0:
		return 0, 1, nil
	case codeSmallUint:
		if len(b) < 2 {
			return 0, 0, errNotFlow
		}
		return uint32(b[1]), 2, nil
	case codeUint:
		if len(b) < 5 {
			return 0, 0, errNotFlow
		}
		return binary.BigEndian.Uint32(b[1:5]), 5, nil
	}
	return 0, 0, errNotFlow
}
