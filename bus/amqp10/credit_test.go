package amqp10

import (
	"testing"
	"time"
)

// issued records the credit issued on one link.
type issued struct{ credits []uint32 }

func (i *issued) IssueCredit(n uint32) error {
	i.credits = append(i.credits, n)
	return nil
}

func (i *issued) total() (n uint64) {
	for _, c := range i.credits {
		n += uint64(c)
	}
	return n
}

// TestCredit drives the bookkeeping through what brokers do: a link is
// topped up with the room the consumer has, once it has delivered all it
// was granted, in any order of settlement; a link that overran gets no more and is
// replaced at once, while what was taken from it still gives room to the
// fresh link; an idle link with room is replaced once nothing taken from
// it is unsettled.
func TestCredit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		op      string // "attach", "arrive", "settle", "replace"
		link    int    // which attached link, in order, from 0
		at      time.Duration
		overrun bool   // reported by arrive
		replace string // reason reported by replace ("" for none)
	}
	tests := []struct {
		name     string
		prefetch int
		steps    []step
		granted  []uint64 // credit issued on each link over its life
		credit   uint64   // held by the broker on the current link, by our count
		held     uint64   // unsettled at the end
	}{
		{
			name: "a link is topped up once it has delivered all it was granted", prefetch: 4,
			steps: []step{
				{op: "attach"}, {op: "arrive"}, {op: "arrive"}, {op: "arrive"}, {op: "settle"},
				{op: "arrive"}, {op: "settle"}, {op: "arrive"},
			},
			granted: []uint64{6}, credit: 1, held: 3,
		},
		{
			name: "used up with no room: topped up as messages settle", prefetch: 2,
			steps: []step{
				{op: "attach"}, {op: "arrive"}, {op: "arrive"}, {op: "settle"}, {op: "settle"}, {op: "arrive"},
			},
			granted: []uint64{4}, credit: 1, held: 1,
		},
		{
			name: "a prefetch of one", prefetch: 1,
			steps: []step{
				{op: "attach"}, {op: "arrive"}, {op: "settle"}, {op: "arrive"}, {op: "settle"},
			},
			granted: []uint64{3}, credit: 1,
		},
		{
			name: "one transfer more than granted: replaced at once, old settlements give the new link room", prefetch: 2,
			steps: []step{
				{op: "attach"}, {op: "arrive"}, {op: "arrive"}, {op: "arrive", overrun: true},
				{op: "settle"},
				{op: "replace", replace: "overrun"},
				{op: "attach"},
				{op: "settle"}, {op: "settle"},
				{op: "arrive", link: 1},
			},
			granted: []uint64{2, 2}, credit: 1, held: 1,
		},
		{
			name: "overrun reported once, and no more credit for it", prefetch: 1,
			steps: []step{
				{op: "attach"}, {op: "arrive"}, {op: "arrive", overrun: true}, {op: "arrive"}, {op: "settle"},
			},
			granted: []uint64{1}, credit: 0, held: 2,
		},
		{
			name: "idle with room is replaced; idle while holding is not", prefetch: 4,
			steps: []step{
				{op: "attach"}, {op: "arrive", at: time.Second},
				{op: "replace", at: time.Minute},
				{op: "settle"},
				{op: "replace", at: 10 * time.Second},
				{op: "replace", at: 11 * time.Second, replace: "idle"},
			},
			granted: []uint64{4}, credit: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCredit(tt.prefetch)
			var (
				links   []*linkCredit
				issuers []*issued
				// taken are the links of the messages taken, oldest first.
				taken []*linkCredit
			)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "attach":
					is := &issued{}
					l, err := c.attach(is, now)
					if err != nil {
						t.Fatal(err)
					}
					links, issuers = append(links, l), append(issuers, is)
				case "arrive":
					got, err := c.arrive(links[s.link], now)
					if err != nil {
						t.Fatal(err)
					}
					if got != s.overrun {
						t.Errorf("step %d: arrive reported overrun %v, want %v", i, got, s.overrun)
					}
					taken = append(taken, links[s.link])
				case "settle":
					if err := c.settle(taken[0]); err != nil {
						t.Fatal(err)
					}
					taken = taken[1:]
				case "replace":
					ok, reason := c.replace(now, 10*time.Second)
					if ok != (s.replace != "") || reason != s.replace {
						t.Errorf("step %d: replace = %v %q, want %q", i, ok, reason, s.replace)
					}
				}
			}
			for i, is := range issuers {
				if got := is.total(); got != tt.granted[i] {
					t.Errorf("link %d: credit issued %v (%d), want %d in all", i, is.credits, got, tt.granted[i])
				}
			}
			if credit, held := c.state(); credit != tt.credit || held != tt.held {
				t.Errorf("state: credit %d, unsettled %d; want %d, %d", credit, held, tt.credit, tt.held)
			}
		})
	}
}
