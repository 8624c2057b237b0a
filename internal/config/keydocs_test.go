package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Every key of the schema has a doc, and every doc a key: a new key cannot
// ship undocumented, nor a removed one stay in the man page.
func TestKeyDocs_EveryKey(t *testing.T) {
	keys := Keys()
	seen := map[string]bool{}
	for _, k := range keys {
		id := docID(k.Table, k.Name)
		seen[id] = true
		if k.Doc == "" {
			t.Errorf("%s: no doc: add it to keyDocs in keydocs_text.go", id)
		}
		if k.Default != "" && k.DefaultText != "" {
			t.Errorf("%s: both def and defText: give one", id)
		}
		if k.Type == "value" {
			t.Errorf("%s: typeName does not know its kind", id)
		}
	}
	for id := range keyDocs {
		if !seen[id] {
			t.Errorf("keyDocs documents %q, which the schema does not have", id)
		}
	}
	if len(keys) < 60 {
		t.Errorf("Keys() lists %d keys; the schema has more than 60", len(keys))
	}
}

// defaultCase builds a file with a key set to its documented default, and
// one without it; the two must load to the same configuration.
func defaultCase(k Key) (with, without string, ok bool) {
	line := k.Name + " = " + k.Default + "\n"
	switch k.Table {
	case TableTop:
		return line + accountTOML(nil, false), accountTOML(nil, false), true
	case TableAccount:
		acc := accountTOML(nil, true)
		deliver := "[[account.deliver]]\nmaildir = \"/var/mail/work\"\n"
		return acc + line + deliver, acc + deliver, true
	case TableDeliver:
		target := `mda = ["/usr/bin/procmail"]` // the kinds that have defaults
		if len(k.Only) > 0 && k.Only[0] != "mda" {
			return "", "", false
		}
		return deliverTOML(target, strings.TrimSpace(line)), deliverTOML(target), true
	}
	return "", "", false
}

// Each default the docs state as a value is the loader's: setting the key
// to it changes nothing.
func TestKeyDocs_Defaults(t *testing.T) {
	setHome(t)
	checked := 0
	for _, k := range Keys() {
		if k.Default == "" {
			continue
		}
		id := docID(k.Table, k.Name)
		with, without, ok := defaultCase(k)
		if !ok {
			t.Errorf("%s: no test case for a default in this table: give defText, or extend defaultCase", id)
			continue
		}
		t.Run(id, func(t *testing.T) {
			a, b := mustParse(t, with), mustParse(t, without)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s = %s loads differently from leaving it out: the documented default is wrong\nwith:    %+v\nwithout: %+v",
					k.Name, k.Default, a.Accounts[0], b.Accounts[0])
			}
		})
		checked++
	}
	if checked < 20 {
		t.Errorf("checked %d defaults, want at least 20", checked)
	}
}

// The example file shows every key, set or commented out, so that a user
// reading it sees everything there is; a key with a default shows it, set
// to it or in its comment ("default …").
func TestExampleConfig_ShowsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		re := regexp.MustCompile(`(?m)^#? ?` + regexp.QuoteMeta(k.Name) + ` *=(.*)$`)
		lines := re.FindAllSubmatch(data, -1)
		if len(lines) == 0 {
			t.Errorf("config.example.toml does not show %s (%s): add a line %q, commented out if it is not the default",
				k.Name, docID(k.Table, k.Name), "#"+k.Name+" = …")
			continue
		}
		if k.Default == "" {
			continue
		}
		shown := false
		for _, l := range lines {
			value, comment, _ := strings.Cut(string(l[1]), "#")
			shown = shown || strings.TrimSpace(value) == k.Default || strings.Contains(comment, "default")
		}
		if !shown {
			t.Errorf("config.example.toml: no line shows %s = %s, its default: set it to that, or say \"default …\" in its comment",
				k.Name, k.Default)
		}
	}
}
