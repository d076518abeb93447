package compat

import (
	"fmt"
	"math/big"
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/fedora-modularity/mts/compat/pyyaml"
)

// adapter presents Python-like document values to CEL: ordered mappings as
// CEL maps, dates as timestamps, big integers as decimal strings.
type adapter struct {
	base types.Adapter
}

func (a *adapter) NativeToValue(v any) ref.Val {
	switch v := v.(type) {
	case *pyyaml.Map:
		return &mapVal{a: a, m: v}
	case []any:
		return types.NewDynamicList(a, v)
	case *big.Int:
		return types.String(v.String())
	case pyyaml.Date:
		return types.Timestamp{Time: pyyaml.DateTime{Date: v}.Time()}
	case pyyaml.DateTime:
		return types.Timestamp{Time: v.Time()}
	}
	return a.base.NativeToValue(v)
}

// mapVal is a pyyaml.Map as a CEL map.
type mapVal struct {
	a *adapter
	m *pyyaml.Map
}

var _ traits.Mapper = (*mapVal)(nil)

func (m *mapVal) ConvertToNative(typeDesc reflect.Type) (any, error) {
	if reflect.TypeOf(m.m).AssignableTo(typeDesc) {
		return m.m, nil
	}
	if typeDesc.Kind() == reflect.Map && typeDesc.Key().Kind() == reflect.String {
		out := reflect.MakeMapWithSize(typeDesc, m.m.Len())
		for _, k := range m.m.Keys() {
			v, _ := m.m.Get(k)
			nv, err := m.a.NativeToValue(v).ConvertToNative(typeDesc.Elem())
			if err != nil {
				return nil, err
			}
			out.SetMapIndex(reflect.ValueOf(pyyaml.Str(k)), reflect.ValueOf(nv))
		}
		return out.Interface(), nil
	}
	return nil, fmt.Errorf("cannot convert a modulemd mapping to %v", typeDesc)
}

func (m *mapVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to %s", t.TypeName())
}

func (m *mapVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(*mapVal)
	return types.Bool(ok && pyyaml.Equal(m.m, o.m))
}

func (m *mapVal) Type() ref.Type { return types.MapType }
func (m *mapVal) Value() any     { return m.m }

func nativeKey(k ref.Val) (any, bool) {
	switch k := k.(type) {
	case types.String:
		return string(k), true
	case types.Int:
		return int64(k), true
	case types.Uint:
		return int64(k), true
	case types.Bool:
		return bool(k), true
	case types.Double:
		return float64(k), true
	}
	return nil, false
}

func (m *mapVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := nativeKey(key)
	if !ok {
		return types.ValOrErr(key, "unsupported key type: %v", key.Type()), false
	}
	v, ok := m.m.Get(k)
	if !ok {
		return nil, false
	}
	return m.a.NativeToValue(v), true
}

func (m *mapVal) Contains(key ref.Val) ref.Val {
	_, ok := m.Find(key)
	return types.Bool(ok)
}

func (m *mapVal) Get(key ref.Val) ref.Val {
	v, ok := m.Find(key)
	if !ok {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v", key)
	}
	return v
}

func (m *mapVal) Size() ref.Val { return types.Int(m.m.Len()) }

func (m *mapVal) Iterator() traits.Iterator {
	return &keyIter{a: m.a, keys: m.m.Keys()}
}

type keyIter struct {
	a    *adapter
	keys []any
	i    int
}

func (it *keyIter) HasNext() ref.Val { return types.Bool(it.i < len(it.keys)) }
func (it *keyIter) Next() ref.Val {
	if it.i >= len(it.keys) {
		return nil
	}
	k := it.keys[it.i]
	it.i++
	return it.a.NativeToValue(k)
}
func (it *keyIter) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("iterator cannot be converted")
}
func (it *keyIter) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("iterator cannot be converted")
}
func (it *keyIter) Equal(ref.Val) ref.Val { return types.False }
func (it *keyIter) Type() ref.Type        { return types.IteratorType }
func (it *keyIter) Value() any            { return nil }
