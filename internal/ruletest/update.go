package ruletest

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// setExpect replaces (or adds) a case's expect mapping with got, keeping
// the comments attached to the key.
func setExpect(caseNode *yaml.Node, got Expect) {
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, v *yaml.Node) { m.Content = append(m.Content, str(k), v) }
	add("outcome", str(got.Outcome))
	if got.Rule != "" {
		add("rule", str(got.Rule))
	}
	if got.Outcome == "matched" {
		l := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, d := range got.Destinations {
			l.Content = append(l.Content, str(d))
		}
		add("destinations", l)
	}
	if len(got.Untag) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, t := range got.Untag {
			l.Content = append(l.Content, str(t))
		}
		add("untag", l)
	}
	if got.Error != "" {
		add("error", str(got.Error))
	}
	for i := 0; i+1 < len(caseNode.Content); i += 2 {
		if caseNode.Content[i].Value == "expect" {
			old := caseNode.Content[i+1]
			m.LineComment, m.FootComment = old.LineComment, old.FootComment
			caseNode.Content[i+1] = m
			return
		}
	}
	caseNode.Content = append(caseNode.Content, str("expect"), m)
}

// writeYAML rewrites a test file in place through a temporary file, so an
// interrupted update leaves the old file whole.
func writeYAML(path string, doc *yaml.Node) error {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
