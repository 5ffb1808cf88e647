package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestExampleDocumentsEveryKey keeps config.example.toml complete: every
// key the loader accepts appears in it, set or commented out.
func TestExampleDocumentsEveryKey(t *testing.T) {
	text, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range tomlKeys(reflect.TypeOf(Config{}), nil) {
		pattern := regexp.MustCompile(`(?m)^[#\s]*(\[+([^\]]*\.)?)?` + regexp.QuoteMeta(key) + `(\s*=|\]|\.)`)
		if !pattern.Match(text) {
			t.Errorf("config.example.toml does not document the key %q", key)
		}
	}
}

// tomlKeys lists the toml tag of every field reachable from typ.
func tomlKeys(typ reflect.Type, seen map[reflect.Type]bool) []string {
	if seen == nil {
		seen = map[reflect.Type]bool{}
	}
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || seen[typ] {
		return nil
	}
	seen[typ] = true
	var keys []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && name == "" {
			// Embedded (Daemon, Cluster): its keys are the parent's.
			keys = append(keys, tomlKeys(f.Type, seen)...)
			continue
		}
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		keys = append(keys, name)
		keys = append(keys, tomlKeys(f.Type, seen)...)
	}
	return keys
}
