package ruletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/internal/build"
)

// kojiMessage is the Koji event of a case given by koji: or message:.
func kojiMessage(dir string, c Case) (build.Message, error) {
	switch {
	case c.Koji != nil && c.Message != nil:
		return build.Message{}, errors.New("give either koji or message, not both")
	case c.Modulemd != "" || c.Document != "":
		return build.Message{}, errors.New("a case on a Koji event takes no modulemd or document (a module build's is in its build info)")
	case c.Message != nil:
		if c.Message.Topic == "" || c.Message.Body == nil {
			return build.Message{}, errors.New("message: give topic and body")
		}
		body, err := json.Marshal(c.Message.Body)
		if err != nil {
			return build.Message{}, fmt.Errorf("message: body: %w", err)
		}
		if _, ok := build.TopicKind(c.Message.Topic); !ok {
			return build.Message{}, fmt.Errorf("message: topic %q names no build event (...build.complete, ...build.tag, ...buildsys.tag, ...)", c.Message.Topic)
		}
		m, err := build.DecodeMessage(c.Message.Topic, "", body)
		if err != nil {
			return build.Message{}, fmt.Errorf("message: %w", err)
		}
		if m.Koji == nil {
			return build.Message{}, errors.New("message: an MBS message; give its modulemd and event instead")
		}
		return m, nil
	}
	k := c.Koji
	kind, err := build.ParseKind(k.Kind)
	if err != nil || !kind.Koji() {
		return build.Message{}, fmt.Errorf("koji: kind: %q is not one of Koji's event kinds (build.complete, build.tag, build.untag, ...)", k.Kind)
	}
	b, err := caseBuild(dir, &k.Build)
	if err != nil {
		return build.Message{}, fmt.Errorf("koji: build: %w", err)
	}
	ev := build.KojiEvent{Kind: kind, Build: b, Tag: k.Tag, User: k.User}
	switch kind {
	case build.KindTag, build.KindUntag:
		if k.Tag == "" {
			return build.Message{}, fmt.Errorf("koji: a %s event needs tag", kind)
		}
	default:
		if k.Tag != "" || k.User != "" {
			return build.Message{}, fmt.Errorf("koji: tag and user are for build.tag and build.untag, not %s", kind)
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
