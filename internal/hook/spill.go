package hook

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// spill returns env with every value longer than MaxValue cut, its whole
// value written to a new file in dir (0600) whose path is the variable
// NAME_FILE, and the names cut listed in TRUNCATED; and the files written,
// which the caller removes once the hook has ended.
func spill(env Env, dir string) (Env, []string, error) {
	var long []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if len(env[k]) > MaxValue {
			long = append(long, k)
		}
	}
	if len(long) == 0 {
		return env, nil, nil
	}
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("keep long %s values for the hook: %w", Prefix+"*", err)
	}
	out := maps.Clone(env)
	var files []string
	for _, k := range long {
		path, err := writeValue(dir, k, env[k])
		if err != nil {
			return nil, files, fmt.Errorf("keep %s%s (%d bytes) for the hook: %w", Prefix, k, len(env[k]), err)
		}
		files = append(files, path)
		out[k] = cut(env[k])
		out[k+"_FILE"] = path
	}
	out["TRUNCATED"] = strings.Join(long, " ")
	return out, files, nil
}

// writeValue writes value into a new file of its own in dir.
func writeValue(dir, name, value string) (string, error) {
	f, err := os.CreateTemp(dir, "hook-"+strings.ToLower(name)+"-*") // 0600
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// cut shortens value to at most MaxValue bytes: to its last whole line if
// it has lines (a list keeps only whole entries), else to the last whole
// UTF-8 character.
func cut(value string) string {
	if i := strings.LastIndexByte(value[:MaxValue], '\n'); i >= 0 {
		return value[:i]
	}
	i := MaxValue
	for i > 0 && !utf8.RuneStart(value[i]) { // value[i] continues a character begun before the cut
		i--
	}
	return value[:i]
}

func removeAll(paths []string) {
	for _, p := range paths {
		os.Remove(p)
	}
}
