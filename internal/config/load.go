package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// EnvConfig names the environment variable consulted when --config is not given.
const EnvConfig = "MAILTASK_CONFIG"

// DefaultFile is the config looked for in the working directory last.
const DefaultFile = "mailtask.toml"

// Find returns the config file to use: flag, then $MAILTASK_CONFIG, then
// ./mailtask.toml.
func Find(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(EnvConfig); env != "" {
		return env
	}
	return DefaultFile
}

// Load reads, defaults and validates the file at path. Every problem found
// is reported, not just the first; each error is an *Error.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: abs, Msg: fmt.Sprintf("config file not found (give --config FILE, set $%s, or create ./%s)", EnvConfig, DefaultFile)}
		}
		return nil, &Error{File: abs, Msg: err.Error()}
	}
	return Parse(abs, data)
}

// Parse is Load for a file already read; file is used for messages and to
// resolve relative paths. The files its include matches are read from disk.
func Parse(file string, data []byte) (*Config, error) {
	cfg := &Config{File: file}
	md, err := decode(file, data, cfg)
	if err != nil {
		return nil, err
	}
	errs := unknownKeys(file, data, md, 0)
	cfg.accountOrder = accountOrder(md)
	for _, name := range cfg.AccountNames() {
		cfg.Accounts[name] = claimAccount(cfg.Accounts[name], file)
	}
	for _, t := range cfg.Tasks {
		t.File = file
	}
	incErrs, unread := cfg.include()
	if len(unread) > 0 {
		return nil, errors.Join(unread...)
	}
	errs = append(errs, incErrs...)
	for name, a := range cfg.Accounts {
		a.Name = name
	}
	cfg.applyDefaults()
	errs = append(errs, cfg.validate()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// decode decodes the TOML of file into cfg; a syntax error names its line.
func decode(file string, data []byte, cfg *Config) (toml.MetaData, error) {
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return md, &Error{File: file, Msg: fmt.Sprintf("line %d: %s", perr.Position.Line, perr.Message)}
		}
		return md, &Error{File: file, Msg: err.Error()}
	}
	return md, nil
}

// accountOrder returns the names of the [accounts.NAME] tables in the
// order the file gives them.
func accountOrder(md toml.MetaData) []string {
	var names []string
	for _, key := range md.Keys() {
		if len(key) == 2 && key[0] == "accounts" {
			names = append(names, key[1])
		}
	}
	return names
}

// unknownKeys reports every key the file sets that mailtask does not know,
// which is how a typo ("pasword_env") shows up instead of being ignored.
// before is how many tasks the files read earlier define, so that a task
// without a name is numbered as validation numbers it.
func unknownKeys(file string, data []byte, md toml.MetaData, before int) []error {
	undecoded := md.Undecoded()
	if len(undecoded) == 0 {
		return nil
	}
	// Keys inside [[task]] come back without the array index; a raw decode
	// tells which task carries each one, so the message can name it.
	var raw struct {
		Task []map[string]any `toml:"task"`
	}
	_, _ = toml.Decode(string(data), &raw)
	var errs []error
	for _, key := range undecoded {
		k := []string(key)
		switch {
		case len(k) >= 3 && k[0] == "accounts":
			errs = append(errs, &Error{File: file, Section: fmt.Sprintf("account %q", k[1]), Key: strings.Join(k[2:], "."), Msg: "unknown key"})
		case len(k) >= 2 && k[0] == "task":
			where := "task"
			for i, t := range raw.Task {
				if _, ok := t[k[1]]; ok {
					where = taskLabel(before+i, t["name"])
					break
				}
			}
			errs = append(errs, &Error{File: file, Section: where, Key: strings.Join(k[1:], "."), Msg: "unknown key"})
		default:
			errs = append(errs, &Error{File: file, Key: key.String(), Msg: "unknown key"})
		}
	}
	// Parents and children of one unknown table would repeat; keep the outermost.
	return slices.CompactFunc(errs, func(a, b error) bool {
		ea, eb := a.(*Error), b.(*Error)
		return ea.Section == eb.Section && strings.HasPrefix(eb.Key, ea.Key+".")
	})
}

func taskLabel(index int, name any) string {
	if s, ok := name.(string); ok && s != "" {
		return fmt.Sprintf("task %q", s)
	}
	return fmt.Sprintf("task #%d", index+1)
}

// Error is one problem in a config file.
type Error struct {
	File    string // the config file
	Section string // `task "invoices"`, `account "shared-inbox"`, or ""
	Key     string // the offending key, or ""
	Msg     string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Section != "" {
		b.WriteString(": " + e.Section)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}
