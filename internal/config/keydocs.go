package config

import "strings"

// What each key is for, as fetchd.toml(5) and config.example.toml tell the
// user. The schema tables say what a key accepts; keyDocs (keydocs_text.go)
// says what it does and what it defaults to. Keys joins the two, and
// TestKeyDocs fails when a schema key has no doc or a doc no key, so a new
// key cannot ship undocumented.

// Tables, as Key.Table names them.
const (
	TableTop     = ""
	TableAccount = "account"
	TableDeliver = "account.deliver"
	TableOAuth2  = "account.oauth2"
)

// Key describes one configuration key for documentation.
type Key struct {
	Table string // TableTop, TableAccount, TableDeliver or TableOAuth2
	Name  string
	// Type is how the value is written: "string", "path", "boolean",
	// "integer", "duration", "size", "array of strings", "array of
	// integers", "string or array of strings", or the allowed values of
	// an enumeration, quoted and joined by " | ".
	Type string
	// Default is the value a file that leaves the key out gets, written as
	// TOML (`"60s"`, `true`, `16`); "" when the default is not one value.
	// TestKeyDocs_Defaults checks each one against the loader.
	Default string
	// DefaultText says in words what the default is when it depends on
	// something else (the TLS mode, the environment); "" otherwise.
	DefaultText string
	// Doc is what the key does, in plain sentences.
	Doc string

	NotInDefaults bool     // an account key that [defaults] may not set
	Target        bool     // a deliver key that names the target
	Only          []string // a deliver key that applies to these target kinds only
	Secret        bool     // the value is a password: keep the file 0600
}

// keyDoc is the hand-written part of a Key.
type keyDoc struct {
	def     string // Key.Default
	defText string // Key.DefaultText
	doc     string // Key.Doc
}

// Keys lists every key the configuration file accepts, in the schema's
// order: the top-level keys, then those of [[account]], [[account.deliver]]
// and [account.oauth2].
func Keys() []Key {
	var out []Key
	out = appendKeys(out, TableTop, configFields, func(field[Config], *Key) {})
	out = appendKeys(out, TableAccount, accountFields, func(f field[Account], k *Key) {
		k.NotInDefaults = f.noDefault
	})
	out = appendKeys(out, TableDeliver, deliverFields, func(f field[Deliver], k *Key) {
		k.Target = f.target
		k.Only = f.only
	})
	out = appendKeys(out, TableOAuth2, oauth2Fields, func(field[OAuth2], *Key) {})
	return out
}

func appendKeys[T any](out []Key, table string, fields []field[T], extra func(field[T], *Key)) []Key {
	for _, f := range fields {
		d := keyDocs[docID(table, f.key)]
		k := Key{
			Table: table, Name: f.key, Type: typeName(f.kind, f.enum),
			Default: d.def, DefaultText: d.defText, Doc: d.doc, Secret: f.secret,
		}
		extra(f, &k)
		out = append(out, k)
	}
	return out
}

// docID is the key of keyDocs: "log_level", "account.server",
// "account.deliver.mda_timeout".
func docID(table, key string) string {
	if table == "" {
		return key
	}
	return table + "." + key
}

func typeName(k kind, enum []string) string {
	switch k {
	case kindString:
		return "string"
	case kindPath:
		return "path"
	case kindEnum:
		q := make([]string, len(enum))
		for i, v := range enum {
			q[i] = `"` + v + `"`
		}
		return strings.Join(q, " | ")
	case kindBool:
		return "boolean"
	case kindInt:
		return "integer"
	case kindDuration:
		return "duration"
	case kindSize:
		return "size"
	case kindStringList:
		return "array of strings"
	case kindIntList:
		return "array of integers"
	case kindStrings:
		return "string or array of strings"
	}
	return "value"
}
