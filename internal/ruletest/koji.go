package ruletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/internal/build"
)

// kojiMessage is the Koji event of a case given by koji: or message:;
// a mistake names the line and the key it is at.
func kojiMessage(dir string, c Case) (build.Message, error) {
	m, err := caseMessage(dir, c)
	var ke *keyError
	if errors.As(err, &ke) {
		n := c.node
		for _, k := range ke.path {
			if v := child(n, k); v != nil {
				n = v
			}
		}
		if n != nil {
			return m, &lineError{n.Line, err.Error()}
		}
	}
	return m, err
}

// keyError is a mistake in the value at path of a case.
type keyError struct {
	path []string
	err  error
}

func (e *keyError) Error() string { return strings.Join(e.path, ": ") + ": " + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

func at(err error, path ...string) error { return &keyError{path: path, err: err} }

func caseMessage(dir string, c Case) (build.Message, error) {
	switch {
	case c.Koji != nil && c.Message != nil:
		return build.Message{}, at(errors.New("give either koji or message, not both"), "message")
	case c.Modulemd != "" || c.Document != "":
		key := "modulemd"
		if c.Document != "" {
			key = "document"
		}
		return build.Message{}, at(errors.New("a case on a Koji event takes none (a module build's modulemd is in its build info)"), key)
	case c.Message != nil:
		if c.Message.Topic == "" || c.Message.Body == nil {
			return build.Message{}, at(errors.New("give topic and body"), "message")
		}
		body, err := json.Marshal(c.Message.Body)
		if err != nil {
			return build.Message{}, at(err, "message", "body")
		}
		if _, ok := build.TopicKind(c.Message.Topic); !ok {
			return build.Message{}, at(fmt.Errorf("%q names no build event (...build.complete, ...build.tag, ...buildsys.tag, ...)", c.Message.Topic), "message", "topic")
		}
		m, err := build.DecodeMessage(c.Message.Topic, "", body)
		if err != nil {
			return build.Message{}, at(err, "message", "body")
		}
		if m.Koji == nil {
			return build.Message{}, at(errors.New("an MBS message; give its modulemd and event instead"), "message", "topic")
		}
		return m, nil
	}
	k := c.Koji
	kind, err := build.ParseKind(k.Kind)
	if err != nil || !kind.Koji() {
		return build.Message{}, at(fmt.Errorf("%q is not one of Koji's event kinds (build.complete, build.tag, build.untag, ...)", k.Kind), "koji", "kind")
	}
	b, err := caseBuild(dir, &k.Build)
	if err != nil {
		return build.Message{}, at(err, "koji", "build")
	}
	ev := build.KojiEvent{Kind: kind, Build: b, Tag: k.Tag, User: k.User}
	switch kind {
	case build.KindTag, build.KindUntag:
		if k.Tag == "" {
			return build.Message{}, at(fmt.Errorf("a %s event needs tag", kind), "koji")
		}
	default:
		if k.Tag != "" || k.User != "" {
			return build.Message{}, at(fmt.Errorf("tag and user are for build.tag and build.untag, not %s", kind), "koji")
		}
		ev.New = build.KojiStateName(ev.Build.State)
	}
	return build.Message{Kind: kind, Koji: &ev}, nil
}

// caseBuild reads a case's build: a file of the hub's answer, relative
// to the test file, or the answer inline.
func caseBuild(dir string, n *yaml.Node) (build.KojiBuild, error) {
	var raw []byte
	switch n.Kind {
	case 0:
		return build.KojiBuild{}, errors.New("required (a file, or the build info inline)")
	case yaml.ScalarNode:
		b, err := os.ReadFile(filepath.Join(dir, n.Value))
		if err != nil {
			return build.KojiBuild{}, err
		}
		raw = b
	default:
		var v map[string]any
		if err := n.Decode(&v); err != nil {
			return build.KojiBuild{}, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return build.KojiBuild{}, err
		}
		raw = b
	}
	var answer struct {
		GetBuild     json.RawMessage `json:"getBuild"`
		GetBuildType json.RawMessage `json:"getBuildType"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return build.KojiBuild{}, err
	}
	if answer.GetBuild == nil {
		// A bare build info is the whole build the case is about, its
		// types in extra.typeinfo if anywhere.
		b, err := build.DecodeBuildInfo(raw, nil)
		b.Complete = err == nil
		return b, err
	}
	return build.DecodeBuildInfo(answer.GetBuild, answer.GetBuildType)
}
