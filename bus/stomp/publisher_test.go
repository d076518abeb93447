package stomp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
)

// liveConns counts the pool's connections.
func liveConns(p *Publisher) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.slots {
		if s.conn != nil {
			n++
		}
	}
	return n
}

// receiveAll acknowledges deliveries until every id in want was seen once.
func receiveAll(t *testing.T, c bus.Consumer, want int) {
	t.Helper()
	seen := map[int64]int{}
	for len(seen) < want {
		d := bustest.Receive(t, c, wait)
		seen[d.Message().Module.ID]++
		ack(t, d)
	}
	for id, k := range seen {
		if id < 0 || id >= int64(want) || k != 1 {
			t.Errorf("event %d delivered %d times", id, k)
		}
	}
}

// TestPublisherPool publishes from more goroutines than the pool has
// connections: every message arrives once, over no more connections than
// configured.
func TestPublisherPool(t *testing.T) {
	tests := []struct {
		conns, publishers, messages, wantConns int
	}{
		{conns: 1, publishers: 4, messages: 20, wantConns: 1},
		{conns: 3, publishers: 8, messages: 40, wantConns: 3},
		{conns: 4, publishers: 1, messages: 2, wantConns: 2},
	}
	for _, p := range pairs(t) {
		for _, tt := range tests {
			name := fmt.Sprintf("%s/connections=%d,publishers=%d", p.name, tt.conns, tt.publishers)
			t.Run(name, func(t *testing.T) {
				c := newConsumer(t, p.consumer)
				bustest.WaitConnected(t, c, wait)
				cfg := p.producer
				cfg.Connections = tt.conns
				pub := newPublisher(t, cfg)
				ids := make(chan int, tt.messages)
				for i := range tt.messages {
					ids <- i
				}
				close(ids)
				var wg sync.WaitGroup
				for range tt.publishers {
					wg.Go(func() {
						for i := range ids {
							if err := pub.Publish(context.Background(), p.topic, bustest.Body(i)); err != nil {
								t.Error(err)
							}
						}
					})
				}
				wg.Wait()
				if got := liveConns(pub); got != tt.wantConns {
					t.Errorf("%d connections open, want %d", got, tt.wantConns)
				}
				receiveAll(t, c, tt.messages)
			})
		}
	}
}

// TestPublisherRedialsLostConnection breaks every pooled connection under
// the publisher: a send on a broken one fails once and drops it, the next
// call dials again, and nothing is lost.
func TestPublisherRedialsLostConnection(t *testing.T) {
	for _, p := range pairs(t) {
		t.Run(p.name, func(t *testing.T) {
			c := newConsumer(t, p.consumer)
			bustest.WaitConnected(t, c, wait)
			cfg := p.producer
			cfg.Connections = 2
			pub := newPublisher(t, cfg)
			publish(t, pub, p.topic, bustest.Body(0))
			publish(t, pub, p.topic, bustest.Body(1))
			pub.mu.Lock()
			var old []any
			for _, s := range pub.slots {
				old = append(old, s.conn)
				_ = s.conn.MustDisconnect()
			}
			pub.mu.Unlock()
			for i := 2; i < 6; i++ {
				publishAfterRestart(t, pub, p.topic, bustest.Body(i))
			}
			pub.mu.Lock()
			for i, s := range pub.slots {
				if s.conn == nil || any(s.conn) == old[i] {
					t.Errorf("slot %d not dialled again", i)
				}
			}
			pub.mu.Unlock()
			receiveAll(t, c, 6)
		})
	}
}

func TestPublisherClosed(t *testing.T) {
	a := needActiveMQ(t)
	pub := newPublisher(t, Config{URIs: []string{a.STOMPAddr}, TopicPrefix: "VirtualTopic." + bustest.Unique("t")})
	publish(t, pub, "x", bustest.Body(1))
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if n := liveConns(pub); n != 0 {
		t.Errorf("%d connections left open", n)
	}
	err := pub.Publish(context.Background(), "x", bustest.Body(2))
	if !errors.Is(err, errPublisherClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
}

func TestPublisherConnectionsRange(t *testing.T) {
	for _, n := range []int{-1, MaxConnections + 1} {
		_, err := NewPublisher(Config{URIs: []string{"h:1"}, Connections: n})
		if err == nil || !strings.Contains(err.Error(), "connections") {
			t.Errorf("Connections %d: got %v, want a range error", n, err)
		}
	}
	for _, n := range []int{0, 1, MaxConnections} {
		p, err := NewPublisher(Config{URIs: []string{"h:1"}, Connections: n})
		if err != nil {
			t.Fatalf("Connections %d: %v", n, err)
		}
		want := n
		if n == 0 {
			want = DefaultConnections
		}
		if len(p.slots) != want || cap(p.idle) != want {
			t.Errorf("Connections %d: %d slots, want %d", n, len(p.slots), want)
		}
	}
}

// BenchmarkPublishConcurrent publishes from 16 goroutines, as the
// service's workers do, through pools of different sizes.
func BenchmarkPublishConcurrent(b *testing.B) {
	for _, p := range benchPairs(b) {
		for _, conns := range []int{1, 4, 16} {
			b.Run(p.name+"/connections="+strconv.Itoa(conns), func(b *testing.B) {
				cfg := p.producer
				cfg.Connections = conns
				pub := newPublisher(b, cfg)
				body := bustest.Body(1)
				publish(b, pub, p.topic, body)
				b.SetParallelism(8) // 16 goroutines on 2 cores
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := pub.Publish(context.Background(), p.topic, body); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}
