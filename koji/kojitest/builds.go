package kojitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// BuildFile is one file of a build-info corpus: what a real hub answered
// getBuild and getBuildType for one build.
type BuildFile struct {
	GetBuild     map[string]any `json:"getBuild"`
	GetBuildType map[string]any `json:"getBuildType"`
}

// ReadBuilds reads every *.json file of a build-info corpus in dir, in
// name order, as builds to add (AddBuild); numbers become int64 where
// they are whole, float64 elsewhere, as the hub's XML-RPC carries them.
func ReadBuilds(dir string) ([]Build, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("kojitest: no *.json build files in %s", dir)
	}
	slices.Sort(files)
	out := make([]Build, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		d.DisallowUnknownFields()
		var bf BuildFile
		if err := d.Decode(&bf); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if bf.GetBuild == nil {
			return nil, fmt.Errorf("%s: no getBuild answer", f)
		}
		info := numbers(bf.GetBuild).(map[string]any)
		if nvr, _ := info["nvr"].(string); nvr == "" {
			return nil, fmt.Errorf("%s: getBuild: no nvr", f)
		}
		if _, ok := info["id"].(int64); !ok {
			return nil, fmt.Errorf("%s: getBuild: no integer id", f)
		}
		b := Build{Info: info, Types: map[string]any{}}
		if bf.GetBuildType != nil {
			b.Types = numbers(bf.GetBuildType).(map[string]any)
		}
		out = append(out, b)
	}
	return out, nil
}

// numbers turns json.Number into int64 or float64, in place.
func numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// cloneMap copies m and the maps and lists in it, so that what the hub
// answers never shares state with what it keeps.
func cloneMap(m map[string]any) map[string]any {
	out := maps.Clone(m)
	for k, v := range out {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

// typeInfo is the build's getBuildType answer. The caller holds h.mu.
func (b *build) typeInfo() map[string]any {
	if b.types != nil {
		return cloneMap(b.types)
	}
	if b.module != nil {
		return map[string]any{"module": moduleTypeInfo(b.module)}
	}
	return map[string]any{"rpm": nil}
}

// hasType reports whether the build is of type btype.
func (b *build) hasType(btype string) bool {
	_, ok := b.typeInfo()[btype]
	return ok
}

func moduleTypeInfo(m *Module) map[string]any {
	return map[string]any{
		"name": m.Name, "stream": m.Stream, "version": m.Version,
		"context": m.Context, "modulemd_str": m.ModulemdStr,
		"module_build_service_id": m.MBSID, "content_koji_tag": "module-" + m.Name,
	}
}

// owner is the name of the build's owner.
func (b *build) owner() string {
	if b.info != nil {
		if s, ok := b.info["owner_name"].(string); ok {
			return s
		}
	}
	return "mbs"
}
