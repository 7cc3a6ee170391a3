package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestREADMEDocumentsEverySetting keeps the top-level README's
// Configuration table in step with the settings: every flag, variable and
// YAML key appears there.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	var want []string
	for _, s := range settings {
		if s.flag != "" {
			want = append(want, "`--"+s.flag)
		}
		if s.env != "" {
			want = append(want, "`"+s.env+"`")
		}
	}
	for _, k := range yamlKeys(reflect.TypeFor[Config](), "") {
		want = append(want, "`"+k)
	}
	for _, w := range want {
		if !strings.Contains(readme, w) {
			t.Errorf("README does not document %s", w)
		}
	}
}

// yamlKeys lists the YAML keys of t, dotted, down to scalars, lists and maps.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case opts == "inline":
			keys = append(keys, yamlKeys(f.Type, prefix)...)
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]():
			keys = append(keys, yamlKeys(f.Type, prefix+name+".")...)
		default:
			keys = append(keys, prefix+name)
		}
	}
	return keys
}

// TestEveryFieldHasAYAMLTag: a field without a yaml tag would be read from
// the file under its lowercased Go name (a new edge.Config field Foo would
// silently become the key "foo"). Each must say its key, or "-".
func TestEveryFieldHasAYAMLTag(t *testing.T) {
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, ok := f.Tag.Lookup("yaml")
			switch {
			case !f.IsExported():
			case !ok:
				t.Errorf("%s.%s (%s) has no yaml tag: give it its key, or yaml:\"-\"", path, f.Name, typ)
			case tag != "-" && f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]():
				walk(f.Type, path+"."+f.Name)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "Config")
}
