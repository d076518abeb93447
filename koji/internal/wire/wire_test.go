package wire

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "wire", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRecordedResponses(t *testing.T) {
	t.Run("getBuild of a module build", func(t *testing.T) {
		var v map[string]any
		if err := DecodeResponse(fixture(t, "getbuild-module.xml"), &v); err != nil {
			t.Fatal(err)
		}
		if v["epoch"] != nil || v["size"] != int64(5368709120) || v["state"] != int64(1) {
			t.Fatalf("epoch=%v size=%v state=%v", v["epoch"], v["size"], v["state"])
		}
		mod := v["extra"].(map[string]any)["typeinfo"].(map[string]any)["module"].(map[string]any)
		if md := mod["modulemd_str"].(string); !strings.Contains(md, "summary: Javascript runtime & npm\n") {
			t.Fatalf("modulemd_str = %q", md)
		}
	})
	t.Run("typed struct with nil and i8", func(t *testing.T) {
		var v struct {
			ID     int    `xmlrpc:"id"`
			Epoch  int    `xmlrpc:"epoch"`
			Size   int64  `xmlrpc:"size"`
			TaskID int    `xmlrpc:"task_id"`
			NVR    string `xmlrpc:"nvr"`
		}
		if err := DecodeResponse(fixture(t, "getbuild-module.xml"), &v); err != nil {
			t.Fatal(err)
		}
		if v.ID != 2418912 || v.Size != 5368709120 || v.NVR != "nodejs-20-4020240501083611.abcd1234" {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("unknown build is nil", func(t *testing.T) {
		if !IsNilResponse(fixture(t, "getbuild-unknown.xml")) {
			t.Fatal("not nil")
		}
		if IsNilResponse(fixture(t, "getbuild-module.xml")) {
			t.Fatal("a build is not nil")
		}
	})
	t.Run("fault", func(t *testing.T) {
		var v any
		err := DecodeResponse(fixture(t, "fault-no-such-tag.xml"), &v)
		var f *Fault
		if !errors.As(err, &f) || f.Code != 1000 || f.String != "No such tagInfo: 'f99-nope'" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("multiCall with a traceback", func(t *testing.T) {
		var v []any
		if err := DecodeResponse(fixture(t, "multicall.xml"), &v); err != nil {
			t.Fatal(err)
		}
		want := []any{
			[]any{int64(118533210)},
			nil, // checked below
			[]any{nil},
		}
		if len(v) != 3 || !reflect.DeepEqual(v[0], want[0]) || !reflect.DeepEqual(v[2], want[2]) {
			t.Fatalf("v = %#v", v)
		}
		f := v[1].(map[string]any)
		if f["faultCode"] != int64(1003) || f["traceback"] == nil {
			t.Fatalf("fault = %#v", f)
		}
	})
	t.Run("sslLogin with a 64-bit session id", func(t *testing.T) {
		var v struct {
			ID  int64  `xmlrpc:"session-id"`
			Key string `xmlrpc:"session-key"`
			HA  bool   `xmlrpc:"header-auth"`
		}
		if err := DecodeResponse(fixture(t, "ssllogin.xml"), &v); err != nil {
			t.Fatal(err)
		}
		if v.ID != 4294967396 || !v.HA || v.Key == "" {
			t.Fatalf("%+v", v)
		}
	})
}

func TestMalformedResponses(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"empty", ""},
		{"html error page", string(fixture(t, "http400.html"))},
		{"call instead of response", "<methodCall><methodName>x</methodName></methodCall>"},
		{"truncated", "<methodResponse><params><param><value><struct><member><name>a</name>"},
		{"unknown type", "<methodResponse><params><param><value><bignum>1</bignum></value></param></params></methodResponse>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := DecodeResponse([]byte(tc.body), &v); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEncodeCallKojiExtensions(t *testing.T) {
	body, err := EncodeCall("getBuild", nil, int64(1)<<40, 7, "a<b", []string{"x"}, Kwargs{"strict": true})
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	for _, want := range []string{
		"<value><nil/></value>",
		"<i8>1099511627776</i8>",
		"<int>7</int>",
		"a&lt;b",
		"<name>__starstar</name><value><boolean>1</boolean></value>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("body lacks %s:\n%s", want, s)
		}
	}
	method, params, err := DecodeCall(body)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{nil, int64(1) << 40, int64(7), "a<b", []any{"x"}, Kwargs{"strict": true}}
	if method != "getBuild" || !reflect.DeepEqual(params, want) {
		t.Fatalf("decoded %s %#v, want %#v", method, params, want)
	}
	if _, err := EncodeCall("x", make(chan int)); err == nil {
		t.Fatal("a channel was encoded")
	}
}

func TestDecodeRecordedCall(t *testing.T) {
	method, params, err := DecodeCall(fixture(t, "call-listtagged.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"f40-modular", Kwargs{"package": "nodejs", "event": nil}}
	if method != "listTagged" || !reflect.DeepEqual(params, want) {
		t.Fatalf("%s %#v", method, params)
	}
	for _, bad := range []string{"", "not xml", "<methodCall></methodCall>", "<methodCall><methodName>x</methodName><params><param><value><int>x</int></value></param></params></methodCall>"} {
		if _, _, err := DecodeCall([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeCall(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestEncodeFaultRoundTrip(t *testing.T) {
	var v any
	err := DecodeResponse(EncodeFault(1014, "server is offline & <down>"), &v)
	var f *Fault
	if !errors.As(err, &f) || f.Code != 1014 || f.String != "server is offline & <down>" {
		t.Fatalf("err = %v", err)
	}
}

// FuzzDecodeResponse feeds arbitrary bodies to the response decoder, into
// a generic value and into a typed struct: errors are fine, panics are not,
// and whatever decodes must encode again.
func FuzzDecodeResponse(f *testing.F) {
	for _, name := range []string{"getbuild-module.xml", "getbuild-unknown.xml", "fault-no-such-tag.xml", "multicall.xml", "ssllogin.xml", "http400.html"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte("<methodResponse><params><param><value><array><data><value/></data></array></value></param></params></methodResponse>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var v any
		if err := DecodeResponse(body, &v); err == nil {
			if _, err := EncodeResponse(v); err != nil {
				t.Fatalf("decoded value does not encode: %v", err)
			}
		}
		var typed struct {
			ID    int               `xmlrpc:"id"`
			Name  string            `xmlrpc:"name"`
			List  []int             `xmlrpc:"list"`
			Extra map[string]any    `xmlrpc:"extra"`
			Sub   *struct{ A bool } `xmlrpc:"sub"`
		}
		_ = DecodeResponse(body, &typed)
		var list []map[string]any
		_ = DecodeResponse(body, &list)
	})
}

// FuzzDecodeCall checks the hub side of the codec the same way.
func FuzzDecodeCall(f *testing.F) {
	f.Add(fixture(f, "call-listtagged.xml"))
	body, _ := EncodeCall("tagBuild", "t", "n-1-1", nil, Kwargs{"force": false})
	f.Add(body)
	f.Fuzz(func(t *testing.T, body []byte) {
		method, params, err := DecodeCall(body)
		if err != nil {
			return
		}
		if _, err := EncodeCall(method, params...); err != nil && !strings.Contains(err.Error(), "cannot encode") {
			t.Fatalf("decoded call does not encode: %v", err)
		}
	})
}
