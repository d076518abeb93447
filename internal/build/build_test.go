package build

import (
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    Event
		wantErr bool
	}{
		{
			name: "plain MBS body",
			body: `{"id": 7, "name": "dwm", "stream": "6.1", "version": "20180101000000", "context": "c2c572ec", "state": 5, "state_name": "ready", "owner": "x", "component_builds": [1,2]}`,
			want: Event{ID: 7, Name: "dwm", Stream: "6.1", Version: "20180101000000", Context: "c2c572ec", State: 5, StateName: "ready"},
		},
		{
			name: "msg wrapping",
			body: `{"msg": {"id": 8, "name": "ant", "stream": "1", "version": 3020190101, "context": "00000000", "state": 3, "state_name": "done", "scratch": true}}`,
			want: Event{ID: 8, Name: "ant", Stream: "1", Version: "3020190101", Context: "00000000", State: 3, StateName: "done", Scratch: true},
		},
		{name: "not json", body: `{"id": `, wantErr: true},
		{name: "no id", body: `{"name": "x"}`, wantErr: true},
		{name: "array", body: `[1,2]`, wantErr: true},
		{name: "stream object", body: `{"id": 1, "name": "x", "stream": {}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.body))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Decode() error = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Decode() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id": 7, "name": "dwm", "stream": "6.1"}`))
	f.Add([]byte(`{"msg": {"id": 8, "name": "ant", "version": 1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Decode(body)
		if err == nil && ev.Name == "" {
			t.Fatalf("accepted an event without a name: %q", body)
		}
	})
}
