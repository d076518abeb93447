// Package wire speaks Koji's dialect of XML-RPC: the standard types plus
// <nil/>, 64-bit <i8> and keyword arguments passed as a final struct marked
// with "__starstar". Decoding is done by github.com/kolo/xmlrpc; encoding is
// done here because that library cannot write <nil/>, large integers as
// <i8>, or the method-response and fault documents a hub sends.
package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"

	"github.com/kolo/xmlrpc"
)

// Kwargs are keyword arguments. Passed as the last parameter of a call, they
// travel as a struct carrying the member "__starstar" = true, which the hub
// turns back into Python keyword arguments.
type Kwargs map[string]any

// Fault is an XML-RPC fault as found in a response body.
type Fault struct {
	Code   int
	String string
}

func (f *Fault) Error() string { return fmt.Sprintf("fault %d: %s", f.Code, f.String) }

// ErrMalformed marks a body that is not a well-formed XML-RPC document.
var ErrMalformed = errors.New("malformed XML-RPC document")

// EncodeCall returns the methodCall document for method and params.
func EncodeCall(method string, params ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<methodCall><methodName>")
	if err := xml.EscapeText(&b, []byte(method)); err != nil {
		return nil, err
	}
	b.WriteString("</methodName><params>")
	for i, p := range params {
		b.WriteString("<param>")
		if err := encodeValue(&b, reflect.ValueOf(p)); err != nil {
			return nil, fmt.Errorf("param %d of %s: %w", i, method, err)
		}
		b.WriteString("</param>")
	}
	b.WriteString("</params></methodCall>\n")
	return b.Bytes(), nil
}

// EncodeResponse returns the methodResponse document carrying v.
func EncodeResponse(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n<methodResponse><params><param>")
	if err := encodeValue(&b, reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	b.WriteString("</param></params></methodResponse>\n")
	return b.Bytes(), nil
}

// EncodeFault returns the methodResponse document carrying a fault.
func EncodeFault(code int, msg string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n<methodResponse><fault>")
	// A map with two plain members cannot fail to encode.
	_ = encodeValue(&b, reflect.ValueOf(map[string]any{"faultCode": code, "faultString": msg}))
	b.WriteString("</fault></methodResponse>\n")
	return b.Bytes()
}

func encodeValue(b *bytes.Buffer, v reflect.Value) error {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			break
		}
		v = v.Elem()
	}
	if !v.IsValid() || ((v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil()) {
		b.WriteString("<value><nil/></value>")
		return nil
	}
	b.WriteString("<value>")
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		writeInt(b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := v.Uint()
		if u > math.MaxInt64 {
			return fmt.Errorf("integer %d does not fit in i8", u)
		}
		writeInt(b, int64(u))
	case reflect.Float32, reflect.Float64:
		b.WriteString("<double>" + strconv.FormatFloat(v.Float(), 'g', -1, 64) + "</double>")
	case reflect.String:
		b.WriteString("<string>")
		if err := xml.EscapeText(b, []byte(v.String())); err != nil {
			return err
		}
		b.WriteString("</string>")
	case reflect.Slice, reflect.Array:
		b.WriteString("<array><data>")
		for i := 0; i < v.Len(); i++ {
			if err := encodeValue(b, v.Index(i)); err != nil {
				return err
			}
		}
		b.WriteString("</data></array>")
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("map key type %s is not string", v.Type().Key())
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		b.WriteString("<struct>")
		for _, k := range keys {
			if err := writeMember(b, k, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))); err != nil {
				return err
			}
		}
		if _, ok := v.Interface().(Kwargs); ok {
			if err := writeMember(b, "__starstar", reflect.ValueOf(true)); err != nil {
				return err
			}
		}
		b.WriteString("</struct>")
	default:
		return fmt.Errorf("cannot encode %s as XML-RPC", v.Type())
	}
	b.WriteString("</value>")
	return nil
}

func writeMember(b *bytes.Buffer, name string, v reflect.Value) error {
	b.WriteString("<member><name>")
	if err := xml.EscapeText(b, []byte(name)); err != nil {
		return err
	}
	b.WriteString("</name>")
	if err := encodeValue(b, v); err != nil {
		return err
	}
	b.WriteString("</member>")
	return nil
}

func writeInt(b *bytes.Buffer, i int64) {
	if i >= math.MinInt32 && i <= math.MaxInt32 {
		b.WriteString("<int>" + strconv.FormatInt(i, 10) + "</int>")
		return
	}
	b.WriteString("<i8>" + strconv.FormatInt(i, 10) + "</i8>")
}

// DecodeResponse decodes a methodResponse body into v (a pointer, as for
// encoding/json). A fault in the body is returned as *Fault. A body that is
// not a methodResponse gives an error wrapping ErrMalformed.
func DecodeResponse(body []byte, v any) (err error) {
	kind, err := rootElement(body)
	if err != nil {
		return err
	}
	if kind != "methodResponse" {
		return fmt.Errorf("%w: root element is <%s>, not <methodResponse>", ErrMalformed, kind)
	}
	// The decoder walks arbitrary input with reflection; a malformed document
	// must come back as an error, never as a panic in the caller.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	resp := xmlrpc.Response(body)
	if ferr := resp.Err(); ferr != nil {
		var fe xmlrpc.FaultError
		if errors.As(ferr, &fe) {
			return &Fault{Code: fe.Code, String: fe.String}
		}
		return fmt.Errorf("%w: fault: %v", ErrMalformed, ferr)
	}
	if err := resp.Unmarshal(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// IsNilResponse reports whether a methodResponse carries <nil/> (Python's
// None), which Koji returns for "not found" without strict=True.
func IsNilResponse(body []byte) bool {
	var v any
	if err := DecodeResponse(body, &v); err != nil {
		return false
	}
	return v == nil
}

// rootElement returns the name of the document's root element.
func rootElement(body []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}

// rawCall mirrors a methodCall document, keeping each parameter's XML so
// that the values can be decoded by the same decoder as responses.
type rawCall struct {
	XMLName    xml.Name `xml:"methodCall"`
	MethodName string   `xml:"methodName"`
	Params     []struct {
		Value struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"value"`
	} `xml:"params>param"`
}

// DecodeCall parses a methodCall body into its method name and parameters.
// Structs decode to map[string]any, arrays to []any, integers to int64 and
// <nil/> to nil. A struct carrying "__starstar" decodes to Kwargs.
func DecodeCall(body []byte) (method string, params []any, err error) {
	var rc rawCall
	if err := xml.Unmarshal(body, &rc); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if rc.MethodName == "" {
		return "", nil, fmt.Errorf("%w: no methodName", ErrMalformed)
	}
	// Re-wrap the parameters as one array in a methodResponse so that a
	// single decoder handles every value in both directions.
	var b bytes.Buffer
	b.WriteString("<methodResponse><params><param><value><array><data>")
	for _, p := range rc.Params {
		b.WriteString("<value>")
		b.Write(p.Value.Inner)
		b.WriteString("</value>")
	}
	b.WriteString("</data></array></value></param></params></methodResponse>")
	var out []any
	if err := DecodeResponse(b.Bytes(), &out); err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return "", nil, fmt.Errorf("%w: fault inside a call", ErrMalformed)
		}
		return "", nil, err
	}
	if len(out) != len(rc.Params) {
		return "", nil, fmt.Errorf("%w: %d params decoded, %d sent", ErrMalformed, len(out), len(rc.Params))
	}
	for i, v := range out {
		out[i] = markKwargs(v)
	}
	return rc.MethodName, out, nil
}

func markKwargs(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if star, _ := m["__starstar"].(bool); star {
		delete(m, "__starstar")
		return Kwargs(m)
	}
	return m
}
