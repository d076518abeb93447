package ruleset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/policy"
)

// Format names a rule file format.
type Format string

// Formats.
const (
	FormatLegacy Format = "legacy"
	FormatCEL    Format = "cel"
)

// File is one parsed rule file before compilation.
type File struct {
	Name   string
	Format Format
	Specs  []policy.Spec
	// Root is the parsed YAML (nil for an empty file).
	Root *yaml.Node
}

// Load reads and compiles the rule files at paths (files, or directories
// whose *.yaml and *.yml files are read in name order), in order, as one
// rule set. A refused set returns an error wrapping policy.ErrRefused whose
// policy.Errors list every problem with its FILE:LINE:COL.
func Load(paths []string, opts Options) (*Ruleset, error) {
	srcs, err := read(paths, opts.Limits.withDefaults())
	if err != nil {
		return nil, err
	}
	return compile(srcs, opts)
}

// FilesRevision is the Revision that Load would give the rule files at
// paths, computed without compiling them: callers can tell cheaply whether
// the files changed.
func FilesRevision(paths []string) (string, error) {
	srcs, err := read(paths, Limits{}.withDefaults())
	if err != nil {
		return "", err
	}
	return revision(srcs), nil
}

func read(paths []string, limits Limits) ([]source, error) {
	files, err := Files(paths)
	if err != nil {
		return nil, err
	}
	var srcs []source
	for _, f := range files {
		data, err := limits.readLimited(f)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, source{name: f, data: data})
	}
	return srcs, nil
}

// revision hashes the files' names and contents.
func revision(srcs []source) string {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(s.name), len(s.data))
		h.Write(s.data)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// LoadBytes compiles one rule file already read (for example fetched from
// rules_file_url); name is used in positions.
func LoadBytes(name string, data []byte, opts Options) (*Ruleset, error) {
	return compile([]source{{name: name, data: data}}, opts)
}

// LoadSources compiles rule files kept from an earlier load (a Ruleset's
// Sources); the revision is the one that load had.
func LoadSources(files []Source, opts Options) (*Ruleset, error) {
	srcs := make([]source, len(files))
	for i, f := range files {
		srcs[i] = source{name: f.Name, data: f.Data}
	}
	return compile(srcs, opts)
}

type source struct {
	name string
	data []byte
}

// Files lists the rule files at paths: files as given, and the *.yaml and
// *.yml files of directories in name order, leaving out hidden files and
// rule tests (IsTestFile).
func Files(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no rule files given")
	}
	files, unreadable := ListFiles(paths)
	if len(unreadable) > 0 {
		return nil, fmt.Errorf("reading rules: %w", unreadable[0])
	}
	return files, nil
}

// ListFiles is Files that goes on past the paths it cannot read, and
// returns why for each (an *fs.PathError naming it).
func ListFiles(paths []string) (files []string, unreadable []error) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			unreadable = append(unreadable, err)
			continue
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			unreadable = append(unreadable, err)
			continue
		}
		// ReadDir returns entries sorted by name.
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || strings.HasPrefix(n, ".") || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) || IsTestFile(n) {
				continue
			}
			files = append(files, filepath.Join(p, n))
		}
	}
	return files, unreadable
}

// Policies splits paths into the rule sets they name, each loaded on its
// own: a directory without rule files of its own whose subdirectories hold
// rule files is a repository of policies (rules/fedora, rules/fedora-cel),
// and each such subdirectory is a set; the other paths together are one
// set, first.
func Policies(paths []string) ([][]string, error) {
	var rest []string
	var sets [][]string
	for _, p := range paths {
		subs, err := policyDirs(p)
		if err != nil {
			return nil, err
		}
		if len(subs) == 0 {
			rest = append(rest, p)
			continue
		}
		for _, s := range subs {
			sets = append(sets, []string{s})
		}
	}
	if len(rest) > 0 {
		sets = append([][]string{rest}, sets...)
	}
	return sets, nil
}

// policyDirs lists the subdirectories of p that hold rule files, when p is
// a directory without any of its own.
func policyDirs(p string) ([]string, error) {
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		return nil, nil // Files reports what cannot be read
	}
	// What cannot be read is left to the set it is in, which says so.
	if own, unreadable := ListFiles([]string{p}); len(unreadable) > 0 || len(own) > 0 {
		return nil, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, nil
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sub := filepath.Join(p, e.Name())
		if files, unreadable := ListFiles([]string{sub}); len(files) > 0 || len(unreadable) > 0 {
			out = append(out, sub)
		}
	}
	return out, nil
}

// IsTestFile reports whether a file name is a rule test file (mts test)
// rather than rules: *.test.yaml, *_test.yaml or *.tests.yaml.
func IsTestFile(name string) bool {
	return strings.HasSuffix(name, ".test.yaml") || strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, ".tests.yaml")
}

// ParseFile reads one rule file into specs without compiling them; the
// problems it finds are returned as policy.Errors.
func ParseFile(name string, data []byte, opts Options) (*File, policy.Errors) {
	limits := opts.Limits.withDefaults()
	if e := limits.fileTooLarge(name, int64(len(data))); e != nil {
		return nil, policy.Errors{*e}
	}
	if opts.Library == nil {
		opts.Library = compat.NewLibrary()
	}
	opts.Library.MaxPatternLen = limits.MaxPatternLength
	root, err := pyyaml.Parse(data)
	if err != nil {
		return nil, policy.Errors{{Source: SyntaxPos(name, data, err), Msg: SyntaxMessage(err), Err: err}}
	}
	f := &File{Name: name, Root: root, Format: Detect(root)}
	var errs policy.Errors
	switch f.Format {
	case FormatCEL:
		f.Specs, errs = parseCEL(name, data, root, opts)
		errs = append(errs, limits.longExpressions(f.Specs)...)
	default:
		if root != nil && root.Kind == yaml.SequenceNode && len(root.Content) > limits.MaxRules {
			item := root.Content[limits.MaxRules]
			return f, policy.Errors{{Source: policy.Position{File: name, Line: item.Line, Col: item.Column},
				Msg: fmt.Sprintf("%v: the file has %d rules, more than max_rules (%d)", ErrLimit, len(root.Content), limits.MaxRules)}}
		}
		f.Specs, errs = compat.LoadLegacy(name, root, opts.DefaultState, opts.Library)
	}
	return f, errs
}

// Detect tells a CEL rule file (a mapping with format: cel) from a legacy
// one (a list).
func Detect(root *yaml.Node) Format {
	if root != nil && root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "format" && root.Content[i+1].Value == "cel" {
				return FormatCEL
			}
		}
	}
	return FormatLegacy
}

// largeSet is the size from which loading collects garbage between
// parsing and compiling.
const largeSet = 20_000

// NewEnv builds the CEL environment with the legacy functions.
func NewEnv() (*policy.Env, error) {
	return policy.NewEnv(compat.NewLibrary().EnvOption())
}

func compile(srcs []source, opts Options) (*Ruleset, error) {
	opts.Library = compat.NewLibrary()
	opts.Library.DropSyntax = true
	var specs []policy.Spec
	var errs policy.Errors
	var names []string
	for _, s := range srcs {
		names = append(names, s.name)
		f, es := ParseFile(s.name, s.data, opts)
		errs = append(errs, es...)
		if f != nil {
			for _, sp := range f.Specs {
				switch m := sp.Meta.(type) {
				case *compat.RuleMeta:
					m.Compact()
				case *CELMeta:
					m.Node = nil
				}
			}
			specs = append(specs, f.Specs...)
		}
	}
	if e := opts.Limits.withDefaults().tooManyRules(specs); e != nil {
		errs = append(errs, *e)
	}
	env, err := policy.NewEnv(opts.Library.EnvOption())
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		// The rules that parsed are compiled still, so that their own
		// problems come in the same report rather than one fix later.
		if _, err := env.Compile(specs); err != nil {
			errs = append(errs, Problems(err)...)
		}
		return nil, fmt.Errorf("%w: %w", policy.ErrRefused, errs)
	}
	if len(specs) >= largeSet {
		// What is left of the files' syntax trees is garbage now;
		// collecting it before the set is compiled (the index, and the
		// programs of CEL rules) keeps the peak of a large load nearer its
		// live size.
		runtime.GC()
	}
	set, err := env.Compile(specs)
	if err != nil {
		return nil, err
	}
	kept := make([]Source, len(srcs))
	for i, s := range srcs {
		kept[i] = Source{Name: s.name, Data: s.data}
	}
	return &Ruleset{Set: set, Revision: revision(srcs), Files: names, Sources: kept}, nil
}

// Problems returns the individual problems of a refused rule set, or nil.
func Problems(err error) policy.Errors {
	var es policy.Errors
	if errors.As(err, &es) {
		return es
	}
	return nil
}

// Count is the number of problems of a refused set (1 for other errors).
func Count(err error) int {
	if p := Problems(err); p != nil {
		return len(p)
	}
	return 1
}
