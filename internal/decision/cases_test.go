package decision

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	in := `{"event": {"id": 1, "name": "a", "stream": "8.10", "version": "1", "context": "c", "state_name": "ready"}, "modulemd": "data: {name: a}"}

{"id": 2, "name": "b", "stream": "s", "version": "1", "context": "c", "state_name": "ready"}
not json
`
	var got []string
	err := ReadEvents(strings.NewReader(in), func(line int, c EventCase, err error) error {
		switch {
		case err != nil:
			got = append(got, "bad")
		case c.HasModulemd:
			ev, doc, err := c.Resolve(context.Background(), nil)
			if err != nil || doc == nil || ev.Stream != "8.10" {
				t.Errorf("line %d: %+v %v", line, ev, err)
			}
			got = append(got, "case")
		default:
			if _, _, err := c.Resolve(context.Background(), nil); !errors.Is(err, ErrNoModulemd) {
				t.Errorf("line %d: a bare message without a source gives %v", line, err)
			}
			got = append(got, "message")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "case,message,bad" {
		t.Errorf("lines read as %v", got)
	}
}

// FuzzReadEvents checks that no events file makes reading or resolving
// panic.
func FuzzReadEvents(f *testing.F) {
	for _, s := range []string{
		`{"event": {"id": 1}, "modulemd": "data: {}"}`,
		`{"msg": {"id": 1, "name": "a", "state_name": "ready"}}`,
		`{"event": 5}`, `[]`, `{"event": {"id": "x"}, "modulemd": 3}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		_ = ReadEvents(strings.NewReader(in), func(_ int, c EventCase, err error) error {
			if err == nil {
				_, _, _ = c.Resolve(context.Background(), nil)
			}
			return nil
		})
	})
}
