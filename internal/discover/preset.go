package discover

import "strings"

// Preset is what fetchd knows of a large provider's POP3 service.
type Preset struct {
	Key     string   // what --provider takes: "google", "microsoft", …
	Name    string   // for messages: "Gmail"
	Domains []string // the addresses' domains it serves
	Host    string   // "" when the provider offers no POP3 at all
	Port    int
	// OAuth2 names the config's OAuth2 provider preset ("google",
	// "microsoft") when the provider takes OAuth2 tokens; OAuth2Only says
	// it takes nothing else.
	OAuth2     string
	OAuth2Only bool
	// Note is what the user must do on the provider's side first.
	Note string
}

// Server returns the preset as a server candidate.
func (p Preset) Server() Server {
	return Server{Host: p.Host, Port: p.Port, TLS: TLSImplicit, Via: "fetchd's settings for " + p.Name}
}

// presets: only what the provider's documentation (or, where marked, a
// third party quoting it) says, looked up in 2026-11. Each is implicit TLS
// on 995. Providers left out because their POP3 settings could not be
// confirmed (web.de, GMX's .com, Yandex, mail.ru, posteo) are found through
// SRV records where their domains publish them, or given with --server.
var presets = []Preset{
	// Google, "IMAP, POP, and SMTP" (developers.google.com/gmail/imap/imap-smtp,
	// quoted by mailconfiguration.com): pop.gmail.com:995, SSL; SASL
	// XOAUTH2 for OAuth 2.0. App passwords also work with 2-Step Verification.
	{Key: "google", Name: "Gmail", Domains: []string{"gmail.com", "googlemail.com"},
		Host: "pop.gmail.com", Port: 995, OAuth2: "google",
		Note: "turn on POP in Gmail's settings (Forwarding and POP/IMAP) first"},
	// Microsoft, "POP, IMAP, and SMTP settings for Outlook.com"
	// (support.microsoft.com, 8361e398-8af4-4e97-b147-6c6c4ac95353): POP
	// server outlook.office365.com, port 995, SSL/TLS, OAuth2/Modern Auth;
	// POP access is off by default.
	{Key: "microsoft", Name: "Outlook.com", Domains: []string{"outlook.com", "hotmail.com", "live.com", "msn.com"},
		Host: "outlook.office365.com", Port: 995, OAuth2: "microsoft", OAuth2Only: true,
		Note: "turn on \"Let devices and apps use POP\" in Outlook.com's settings (Mail > Forwarding and IMAP) first"},
	// Yahoo (third-party summary of help.yahoo.com): pop.mail.yahoo.com:995,
	// SSL; third-party clients need an app password.
	{Key: "yahoo", Name: "Yahoo Mail", Domains: []string{"yahoo.com", "ymail.com"},
		Host: "pop.mail.yahoo.com", Port: 995,
		Note: "use an app password (Yahoo account security > Generate app password), not your Yahoo password"},
	// AOL: pop.aol.com:995, SSL (Zoho's table of external POP settings,
	// zoho.com/mail/help/external-pop-accounts-setup.html).
	{Key: "aol", Name: "AOL Mail", Domains: []string{"aol.com"},
		Host: "pop.aol.com", Port: 995,
		Note: "AOL may require an app password for other mail programs"},
	// GMX (third-party antwort.net; GMX's own page gmx.net/mail/tipps says
	// POP3 is off by default): pop.gmx.net:995, SSL/TLS only.
	{Key: "gmx", Name: "GMX", Domains: []string{"gmx.de", "gmx.net", "gmx.at", "gmx.ch"},
		Host: "pop.gmx.net", Port: 995,
		Note: "turn on POP3 access in GMX's e-mail settings first (it is off by default)"},
	// Fastmail, "Server names and ports" (fastmail.com/help/technical/
	// servernamesandports.html): pop.fastmail.com:995, SSL/TLS, app password.
	{Key: "fastmail", Name: "Fastmail", Domains: []string{"fastmail.com", "fastmail.fm"},
		Host: "pop.fastmail.com", Port: 995,
		Note: "use an app password (Settings > Privacy & Security), not your Fastmail password"},
	// mailbox.org, "E-mail configuration" (kb.mailbox.org): pop3.mailbox.org:995, SSL/TLS.
	{Key: "mailbox.org", Name: "mailbox.org", Domains: []string{"mailbox.org"},
		Host: "pop3.mailbox.org", Port: 995,
		Note: "with two-factor authentication on, use an application password"},
	// Zoho, "POP configuration details" (zoho.com/mail/help/pop-access.html):
	// pop.zoho.com:995, SSL, for personal addresses; POP access must be enabled.
	{Key: "zoho", Name: "Zoho Mail", Domains: []string{"zoho.com", "zohomail.com"},
		Host: "pop.zoho.com", Port: 995,
		Note: "enable POP access in Zoho Mail's settings first"},
	// Apple: iCloud Mail offers IMAP only (lifewire.com, "iCloud does not
	// support POP mail").
	{Key: "icloud", Name: "iCloud Mail", Domains: []string{"icloud.com", "me.com", "mac.com"},
		Note: "iCloud Mail offers no POP3, only IMAP, which fetchd does not speak yet"},
}

// LookupPreset returns the preset serving domain.
func LookupPreset(domain string) (Preset, bool) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	for _, p := range presets {
		for _, d := range p.Domains {
			if d == domain {
				return p, true
			}
		}
	}
	return Preset{}, false
}

// PresetByKey returns the preset --provider names, for an address on a
// domain of its own that the provider hosts (Google Workspace, Microsoft 365).
func PresetByKey(key string) (Preset, bool) {
	for _, p := range presets {
		if p.Key == strings.ToLower(key) {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetKeys lists the keys PresetByKey takes, for a usage message.
func PresetKeys() []string {
	var out []string
	for _, p := range presets {
		if p.Host != "" {
			out = append(out, p.Key)
		}
	}
	return out
}
