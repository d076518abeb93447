package build

import (
	"fmt"
	"slices"
	"strings"
)

// Kind names what an event reports, as rule files' `on:` and the
// configuration's inputs name it.
type Kind string

// Kinds. A Koji build state change is named after the state the build went
// to, as Koji's protonmsg plugin names its addresses.
const (
	// KindModule is MBS's module build state change, the only kind legacy
	// rules and CEL files without `on:` decide on.
	KindModule   Kind = "module.state.change"
	KindBuilding Kind = "build.building"
	KindComplete Kind = "build.complete"
	KindFailed   Kind = "build.failed"
	KindCanceled Kind = "build.canceled"
	KindDeleted  Kind = "build.deleted"
	KindTag      Kind = "build.tag"
	KindUntag    Kind = "build.untag"
	// kindStateAny is Fedora's state change topic, whose kind is the
	// state in its body.
	kindStateAny Kind = "buildsys.build.state.change"
)

// Kinds lists every kind, MBS's first.
func Kinds() []Kind {
	return []Kind{KindModule, KindBuilding, KindComplete, KindFailed, KindCanceled, KindDeleted, KindTag, KindUntag}
}

// Koji tells whether the kind is one of Koji's own events.
func (k Kind) Koji() bool { return k != KindModule && slices.Contains(Kinds(), k) }

// ParseKind reads a kind as a rule file or the configuration writes it.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	if slices.Contains(Kinds(), k) {
		return k, nil
	}
	names := make([]string, 0, len(Kinds()))
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown event kind %q (known: %s)", s, strings.Join(names, ", "))
}

// KojiStateName is the lower-case name of a Koji build state code ("" for
// an unknown code).
func KojiStateName(code int) string {
	switch code {
	case 0:
		return "building"
	case 1:
		return "complete"
	case 2:
		return "deleted"
	case 3:
		return "failed"
	case 4:
		return "canceled"
	}
	return ""
}

// stateKind is the kind of a change to the given state code.
func stateKind(code int) (Kind, bool) {
	name := KojiStateName(code)
	if name == "" {
		return "", false
	}
	return Kind("build." + name), true
}

// TopicKind tells which kind of event a topic, routing key, address or
// queue name carries, from how it ends: Koji's protonmsg addresses
// (`...build.complete`, `...build.tag`), Fedora's topics
// (`...buildsys.build.state.change`, `...buildsys.tag`) and MBS's
// (`...module.state.change`). ok is false for a name that ends in none of
// them. A Fedora state change's kind depends on the state in its body,
// which DecodeMessage reads.
func TopicKind(topic string) (k Kind, ok bool) {
	t := strings.TrimSuffix(topic, "/")
	for _, k := range Kinds() {
		if hasSegmentSuffix(t, string(k)) {
			return k, true
		}
	}
	switch {
	case hasSegmentSuffix(t, string(kindStateAny)):
		return kindStateAny, true
	case hasSegmentSuffix(t, "buildsys.tag"):
		return KindTag, true
	case hasSegmentSuffix(t, "buildsys.untag"):
		return KindUntag, true
	}
	return "", false
}

// hasSegmentSuffix tells whether s ends with suffix at a boundary: the
// whole of s, or after a '.' or '/'.
func hasSegmentSuffix(s, suffix string) bool {
	if !strings.HasSuffix(s, suffix) {
		return false
	}
	rest := s[:len(s)-len(suffix)]
	return rest == "" || strings.HasSuffix(rest, ".") || strings.HasSuffix(rest, "/")
}
