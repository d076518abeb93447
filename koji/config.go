package koji

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// Config is one koji client profile.
type Config struct {
	Profile string
	// Server is the hub's XML-RPC URL, e.g. https://koji.fedoraproject.org/kojihub.
	Server string
	WebURL string
	TopURL string
	// AuthType is "ssl", "kerberos" (or its alias "gssapi"), "password" or
	// "" for anonymous use.
	AuthType string
	// Cert is one PEM file holding the client certificate and its key.
	Cert      string
	ServerCA  string
	Principal string
	Keytab    string

	KrbRDNS       bool
	KrbCanonHost  bool
	NoSSLVerify   bool
	AnonRetry     bool
	UseFastUpload bool

	// Timeout bounds one HTTP request to the hub.
	Timeout       time.Duration
	MaxRetries    int
	RetryInterval time.Duration

	// Files lists the files that were read, in order.
	Files []string
}

// LoadOptions says where LoadConfig looks. Zero fields take the koji
// client's usual locations.
type LoadOptions struct {
	// SystemFile defaults to /etc/koji.conf.
	SystemFile string
	// SystemDir defaults to /etc/koji.conf.d; its *.conf files are read
	// before SystemFile, in name order.
	SystemDir string
	// UserFile defaults to ~/.koji/config.
	UserFile string
	// File, when set, is read instead of UserFile and must exist (the
	// command line's --config).
	File string
	// Home is used to expand "~"; it defaults to $HOME.
	Home string
}

// Defaults of the koji client library.
const (
	defaultTimeout       = 12 * time.Hour
	defaultMaxRetries    = 30
	defaultRetryInterval = 20 * time.Second
)

// ConfigError is a problem with a profile, naming the file and key.
type ConfigError struct {
	File string // empty when the problem is a key no file set
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	switch {
	case e.File != "" && e.Key != "":
		return fmt.Sprintf("koji config %s: key %q: %s", e.File, e.Key, e.Msg)
	case e.File != "":
		return fmt.Sprintf("koji config %s: %s", e.File, e.Msg)
	default:
		return "koji config: " + e.Msg
	}
}

// LoadConfig reads the koji client configuration files and returns the
// named profile. As in the koji client, each file may hold several
// sections, one per profile ("koji" is the default profile's section);
// later files override keys of earlier ones: /etc/koji.conf.d/*.conf,
// /etc/koji.conf, then ~/.koji/config (or opts.File).
func LoadConfig(profile string, opts LoadOptions) (*Config, error) {
	if profile == "" {
		profile = "koji"
	}
	home := opts.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	files, err := configFiles(opts, home)
	if err != nil {
		return nil, err
	}
	values := map[string]string{}
	source := map[string]string{}
	cfg := &Config{Profile: profile}
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && !f.required {
				continue
			}
			return nil, &ConfigError{File: f.path, Msg: err.Error()}
		}
		cfg.Files = append(cfg.Files, f.path)
		if err := readProfile(f.path, data, profile, values, source); err != nil {
			return nil, err
		}
	}
	if len(source) == 0 {
		return nil, &ConfigError{Msg: fmt.Sprintf("no section [%s] in %s", profile, describeFiles(files))}
	}
	if err := cfg.fill(values, source, home); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseConfig reads one profile from INI data, as LoadConfig does for a file.
func ParseConfig(name string, data []byte, profile, home string) (*Config, error) {
	values := map[string]string{}
	source := map[string]string{}
	if err := readProfile(name, data, profile, values, source); err != nil {
		return nil, err
	}
	if len(source) == 0 {
		return nil, &ConfigError{File: name, Msg: fmt.Sprintf("no section [%s]", profile)}
	}
	cfg := &Config{Profile: profile, Files: []string{name}}
	if err := cfg.fill(values, source, home); err != nil {
		return nil, err
	}
	return cfg, nil
}

type configFile struct {
	path     string
	required bool
}

func configFiles(opts LoadOptions, home string) ([]configFile, error) {
	sysDir := opts.SystemDir
	if sysDir == "" {
		sysDir = "/etc/koji.conf.d"
	}
	sysFile := opts.SystemFile
	if sysFile == "" {
		sysFile = "/etc/koji.conf"
	}
	var out []configFile
	matches, err := filepath.Glob(filepath.Join(sysDir, "*.conf"))
	if err != nil {
		return nil, &ConfigError{File: sysDir, Msg: err.Error()}
	}
	for _, m := range matches { // Glob returns names in order
		out = append(out, configFile{path: m})
	}
	out = append(out, configFile{path: sysFile})
	switch {
	case opts.File != "":
		out = append(out, configFile{path: expandHome(opts.File, home), required: true})
	case opts.UserFile != "":
		out = append(out, configFile{path: expandHome(opts.UserFile, home)})
	case home != "":
		out = append(out, configFile{path: filepath.Join(home, ".koji", "config")})
	}
	return out, nil
}

func describeFiles(files []configFile) string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.path
	}
	return strings.Join(names, ", ")
}

func readProfile(name string, data []byte, profile string, values, source map[string]string) error {
	f, err := ini.LoadSources(ini.LoadOptions{
		// Python's ConfigParser keeps "#" and ";" inside values.
		IgnoreInlineComment: true,
		Insensitive:         false,
	}, data)
	if err != nil {
		return &ConfigError{File: name, Msg: "not a valid INI file: " + err.Error()}
	}
	sec, err := f.GetSection(profile)
	if err != nil {
		return nil // this file says nothing about the profile
	}
	for _, k := range sec.Keys() {
		key := strings.ToLower(k.Name())
		values[key] = strings.TrimSpace(k.Value())
		source[key] = name
	}
	if len(sec.Keys()) == 0 {
		source[""] = name // an empty section still defines the profile
	}
	return nil
}

func (c *Config) fill(values, source map[string]string, home string) error {
	str := func(k string) string { return values[k] }
	path := func(k string) string { return expandHome(values[k], home) }
	boolean := func(k string, def bool) (bool, error) {
		v, ok := values[k]
		if !ok || v == "" {
			return def, nil
		}
		switch strings.ToLower(v) {
		case "1", "yes", "true", "on":
			return true, nil
		case "0", "no", "false", "off":
			return false, nil
		}
		return false, &ConfigError{File: source[k], Key: k, Msg: fmt.Sprintf("%q is not a boolean (yes/no, true/false, on/off, 1/0)", v)}
	}
	number := func(k string) (float64, bool, error) {
		v, ok := values[k]
		if !ok || v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || n > 1e9 {
			return 0, false, &ConfigError{File: source[k], Key: k, Msg: fmt.Sprintf("%q is not a number between 0 and 1e9", v)}
		}
		return n, true, nil
	}
	var err error
	c.Server = str("server")
	c.WebURL = str("weburl")
	c.TopURL = str("topurl")
	c.AuthType = strings.ToLower(str("authtype"))
	c.Cert = path("cert")
	c.ServerCA = path("serverca")
	c.Principal = str("principal")
	c.Keytab = path("keytab")
	if c.KrbRDNS, err = boolean("krb_rdns", true); err != nil {
		return err
	}
	if c.KrbCanonHost, err = boolean("krb_canon_host", false); err != nil {
		return err
	}
	if c.NoSSLVerify, err = boolean("no_ssl_verify", false); err != nil {
		return err
	}
	if c.AnonRetry, err = boolean("anon_retry", false); err != nil {
		return err
	}
	if c.UseFastUpload, err = boolean("use_fast_upload", true); err != nil {
		return err
	}
	c.Timeout, c.MaxRetries, c.RetryInterval = defaultTimeout, defaultMaxRetries, defaultRetryInterval
	if n, ok, err := number("timeout"); err != nil {
		return err
	} else if ok {
		c.Timeout = time.Duration(n * float64(time.Second))
	}
	if n, ok, err := number("max_retries"); err != nil {
		return err
	} else if ok {
		c.MaxRetries = int(n)
	}
	if n, ok, err := number("retry_interval"); err != nil {
		return err
	} else if ok {
		c.RetryInterval = time.Duration(n * float64(time.Second))
	}
	return c.validate(source)
}

// validate checks that the profile can be used: a server URL and what its
// authtype needs.
func (c *Config) validate(source map[string]string) error {
	anyFile := ""
	for _, f := range source {
		anyFile = f
		break
	}
	if c.Server == "" {
		return &ConfigError{File: anyFile, Key: "server", Msg: fmt.Sprintf("profile %q has no hub URL", c.Profile)}
	}
	if !strings.HasPrefix(c.Server, "https://") && !strings.HasPrefix(c.Server, "http://") {
		return &ConfigError{File: source["server"], Key: "server", Msg: fmt.Sprintf("%q is not an http(s) URL", c.Server)}
	}
	switch c.AuthType {
	case "":
	case "ssl":
		if c.Cert == "" {
			return &ConfigError{File: source["authtype"], Key: "cert", Msg: "authtype ssl needs a client certificate (cert = PEM with certificate and key)"}
		}
	case "kerberos", "gssapi":
		c.AuthType = "kerberos"
		if c.Keytab != "" && c.Principal == "" {
			return &ConfigError{File: source["keytab"], Key: "principal", Msg: "a keytab needs a principal"}
		}
	case "password":
		// Accepted so that profiles shared with the koji CLI load, but this
		// client cannot log in with it.
	default:
		return &ConfigError{File: source["authtype"], Key: "authtype", Msg: fmt.Sprintf("unknown authtype %q (want ssl, kerberos, gssapi or password)", c.AuthType)}
	}
	return nil
}

func expandHome(p, home string) string {
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}
