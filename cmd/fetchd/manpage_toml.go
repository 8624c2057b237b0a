package main

import (
	"fmt"
	"io"
	"strings"

	"fetchd/internal/config"
)

// The man page fetchd.toml(5), from config.Keys: every key the loader
// accepts, with its type, default and meaning.

// keySections are the sections of fetchd.toml(5), one per table.
var keySections = []struct {
	table, title, intro string
}{
	{config.TableTop, "TOP-LEVEL KEYS", "These come before any table."},
	{config.TableAccount, "ACCOUNT KEYS", "Keys of an [[account]] table. Each may also be set in [defaults], which every account inherits from, except where noted; the four password sources are inherited as one: an account that sets any of them inherits none."},
	{config.TableDeliver, "DELIVERY KEYS", "Keys of an [[account.deliver]] table, one per target: an account delivers each message to all of its targets, and one without any uses the [[defaults.deliver]] tables. Each table holds exactly one target key (maildir, mbox, mda, mda_shell, smtp, lmtp) and that target's own keys."},
	{config.TableOAuth2, "OAUTH2 KEYS", "Keys of an [account.oauth2] table, or of [defaults.oauth2] for every account that has neither its own table nor a password source. With one, the account signs in with OAuth2: run fetchd auth ACCOUNT once, and fetchd keeps the refresh token in its state directory and refreshes access tokens itself."},
}

// writeManTOML writes fetchd.toml(5).
func writeManTOML(w io.Writer, keys []config.Key) {
	fmt.Fprint(w, manHeader)
	fmt.Fprint(w, ".TH FETCHD.TOML 5 \"\" \"fetchd\" \"fetchd manual\"\n"+manLayout)
	fmt.Fprint(w, ".SH NAME\nfetchd.toml \\- configuration file of fetchd\n")
	fmt.Fprint(w, ".SH SYNOPSIS\n~/.config/fetchd/config.toml\n.br\n/etc/fetchd/config.toml\n")
	manSection(w, "DESCRIPTION", `fetchd(1) reads one TOML file: top-level keys first, then a [defaults] table whose keys every account inherits unless it sets its own, then one [[account]] table per POP3 mailbox, each with one or more [[account.deliver]] tables. fetchd check validates it and reports every problem at once, with file, line, account and key. Unknown keys are errors, with a suggestion when one looks like a typo.

A duration is written "90s", "5m", "2h", "30d" or "1d12h". A size is a number of bytes, or "50MB", "1MiB". A path may start with "~/", the home directory of the user fetchd runs as, and must otherwise be absolute.

A file holding a password or client secret must be readable by its owner only (chmod 600): fetchd refuses it otherwise, and says which chmod to run. So are the files password_file, smtp_password_file, client_secret_file and tls_client_key name.`)
	for _, s := range keySections {
		fmt.Fprintf(w, ".SH %s\n%s\n", s.title, roffLine(s.intro))
		for _, k := range keys {
			if k.Table == s.table {
				writeManKey(w, k)
			}
		}
	}
	fmt.Fprint(w, `.SH EXAMPLE
.nf
[defaults]
keep = false

[[account]]
name = "work"
server = "pop.example.com"
user = "me@example.com"
password_file = "~/.config/fetchd/work.password"
[[account.deliver]]
maildir = "~/Maildir"
.fi
.PP
The example configuration shipped with fetchd (config.example.toml, in
/usr/share/doc/fetchd or /usr/local/share/doc/fetchd) shows every key.
`)
	manSection(w, "SEE ALSO", "fetchd(1), systemd.exec(5) for LoadCredential=")
}

// writeManKey writes one key as a .TP entry: name, type, then what it does
// and its default.
func writeManKey(w io.Writer, k config.Key) {
	fmt.Fprintf(w, ".TP\n\\fB%s\\fR = \\fI%s\\fR\n", roffEscape(k.Name), roffEscape(k.Type))
	text := k.Doc
	if len(k.Only) > 0 {
		text += " Only with " + strings.Join(k.Only, ", ") + " targets."
	}
	if k.NotInDefaults {
		text += " Not in [defaults]."
	}
	switch {
	case k.DefaultText == "required":
		text += " Required."
	case k.Default != "":
		text += " Default: " + k.Default + "."
	case k.DefaultText != "":
		text += " Default: " + k.DefaultText + "."
	}
	fmt.Fprintln(w, roffLine(text))
}
