package main

//go:generate go test -run TestGeneratedDocs -update .

// The commands, once: `fetchd help`, each command's --help, the man page
// fetchd(1) and the shell completions are all made from this table and from
// the flags each command defines (newCommandFlags collects them), so none
// of them can drift from what the code accepts. After changing either, run
// `go generate ./cmd/fetchd` to rewrite docs/man and contrib/completion;
// TestGeneratedDocs fails until then.

// command documents one subcommand.
type command struct {
	name    string
	args    string // the operands after the flags, e.g. "[ACCOUNT...]"
	summary string // one line for `fetchd help`, lower case, no full stop
	// doc is what the command does: paragraphs separated by blank lines,
	// plain sentences (the man page and --help format them).
	doc      string
	examples []example

	// For completion: what the operands are.
	words    []string // the first operand is one of these
	accounts bool     // the operands are account names
	files    bool     // the operands after the first word are files
	noFlags  bool     // the command takes no flags (help, completion, version)
}

// example is one command line and what it does.
type example struct{ line, what string }

// commands is every subcommand, in the order `fetchd help` lists them.
var commands = []command{
	{name: "once", args: "[ACCOUNT...]", accounts: true,
		summary: "poll each account (or those named) once, then exit",
		doc: `Poll every account, or the accounts named, once: fetch what is new, deliver it, and delete it on the server unless the account keeps mail. One summary line per account goes to stdout; details go to the log on stderr. On a terminal a progress line per account shows messages, bytes and rate.

When fetchd run is running on the same state store, once asks the daemon to poll instead, and waits for the result.`,
		examples: []example{
			{"fetchd once", "poll every account once"},
			{"fetchd once work", `poll only the account "work"`},
			{"fetchd once --dry-run work", "list what would be fetched and deleted, changing nothing"},
			{"fetchd once --mark-seen work", "after switching from another program: record what is on the server as seen, fetching none"},
		}},
	{name: "run", args: "",
		summary: "run as a daemon: poll every account on its schedule",
		doc: `Run in the foreground as a daemon: poll every account at start, then on its schedule, until SIGTERM or SIGINT. Accounts poll in parallel within max_parallel and max_per_server; a failing account backs off; an account whose login keeps being rejected pauses.

SIGHUP rereads the configuration (an invalid one is reported and the previous one kept); SIGUSR1 polls every account now; SIGTERM lets each message in flight finish, then exits; a second SIGTERM exits at once. Under systemd it reports readiness and status with sd_notify and pings the watchdog. It serves fetchd status, once, retry and resume on a unix socket.`,
		examples: []example{
			{"fetchd run", "the daemon in the foreground, logging to stderr"},
			{"fetchd run -c /etc/fetchd/config.toml", "as the system service runs it"},
		}},
	{name: "retry", args: "[ACCOUNT...]", accounts: true,
		summary: "retry messages held after a permanent failure, then poll",
		doc:     `Release the messages a delivery target refused permanently (held on the server until failed_retry_after), then poll the accounts at once, as once does. Run it after fixing the cause, such as a full disk or an MDA's configuration.`,
		examples: []example{
			{"fetchd retry", "release the held messages of every account and poll"},
			{"fetchd retry work", `only those of "work"`},
		}},
	{name: "check", args: "",
		summary: "validate the configuration and list the accounts",
		doc:     `Load the configuration and report every problem in it at once, each with its file, line, account and key; or, when it is valid, list each account with its server, login, TLS and targets. It contacts no server.`,
		examples: []example{
			{"fetchd check", "check the default configuration file"},
			{"fetchd check -c /etc/fetchd/config.toml", "check the system service's configuration"},
		}},
	{name: "status", args: "[ACCOUNT...]", accounts: true,
		summary: "each account's last poll, result, next poll and error",
		doc:     `Show each account's state, last poll and its result, next poll, messages delivered and last error: from the running daemon, or from the state store when no daemon runs. A paused account and a configuration whose reload failed show here.`,
		examples: []example{
			{"fetchd status", "every account"},
			{"fetchd status --json", "the daemon's whole status as JSON"},
			{"sudo fetchd status", "the system service's accounts, through its state store"},
		}},
	{name: "resume", args: "ACCOUNT...", accounts: true,
		summary: "lift the pause of an account whose login kept failing",
		doc:     `Lift the pause of the accounts named: an account pauses after pause_after_auth_failures polls in a row whose login the server rejected, so that the provider does not lock it. Fix the password first; a reload that changes an account's credentials lifts its pause too.`,
		examples: []example{
			{"fetchd resume work", `poll "work" again after fixing its password`},
		}},
	{name: "doctor", args: "ACCOUNT", accounts: true,
		summary: "show the server's certificates, capabilities and login method",
		doc:     `Connect to an account's server as a poll would and show what fetchd sees: the certificate chain with fingerprints, names and expiry, the capabilities before and after TLS and after login, and the login method fetchd would use. It touches no message. Use it to fix a refused connection, or to pin a self-signed server with tls_fingerprint.`,
		examples: []example{
			{"fetchd doctor work", "everything, logging in"},
			{"fetchd doctor --no-login work", "stop before sending any credential"},
		}},
	{name: "auth", args: "ACCOUNT", accounts: true,
		summary: "grant fetchd OAuth2 access to an account (Google, Microsoft)",
		doc:     `Obtain an OAuth2 grant for an account with an [account.oauth2] table: open the printed URL in a browser (loopback flow), or enter the printed code on any device (device flow), and consent. The refresh token is kept next to the state store, never in the configuration; polls refresh access tokens from it. Run it again when fetchd status says the grant needs renewing.`,
		examples: []example{
			{"fetchd auth gmail", "consent in a browser on this machine"},
			{"fetchd auth --flow device outlook", "consent on another device with a code"},
		}},
	{name: "add", args: "EMAIL", summary: "add an account, finding its server by DNS or a preset",
		doc: `Add an account for an e-mail address, asking only for what cannot be found out: the POP3 server comes from the address's SRV records (RFC 6186: _pop3s._tcp, then _pop3._tcp) or from built-in presets for large providers (with their OAuth2 settings). The connection is checked as doctor does before anything is written. SRV answers are not authenticated: a server outside the address's own domain needs confirmation (--yes in scripts). The account is appended to the configuration as an [[account]] table; a password typed or read from stdin goes into a 0600 file of its own, never into the configuration. For OAuth2 providers it asks for the client ID of your app and then runs fetchd auth.`,
		examples: []example{
			{"fetchd add me@example.com", "find the server, ask for the password, check the login, append the account"},
			{"fetchd add --name work --password-file ~/.config/fetchd/work.password me@example.com", "with a password already in a file, which the configuration then names"},
			{"pass show mail/work | fetchd add --password-stdin --yes me@example.com", "in a script: nothing asked"},
		}},
	{name: "import-config", args: "fetchmail|mpop|getmail [PATH...]", words: []string{"fetchmail", "mpop", "getmail"}, files: true,
		summary: "print a fetchd configuration translated from fetchmail, mpop or getmail",
		doc: `Translate a fetchmail, mpop or getmail configuration into fetchd's and print it on stdout. Options that have no fetchd equivalent (multidrop, IMAP accounts and the like) are listed, each with the reason, in a comment block at the top. Several PATHs, such as getmail's one rc file per account, are merged into one configuration.

Without PATH it reads the program's usual file: ~/.fetchmailrc (or $FETCHMAILHOME/fetchmailrc), ~/.mpoprc (or $XDG_CONFIG_HOME/mpop/config), or the rc files in ~/.config/getmail (or ~/.getmail).

Passwords written inline in the source never appear in the output: each goes into a file of its own (mode 0600) in the secrets directory (--secrets-dir; by default the directory of the -c file, else $XDG_CONFIG_HOME/fetchd), which the configuration names. Review the result, then run fetchd check on it.`,
		examples: []example{
			{"fetchd import-config fetchmail > ~/.config/fetchd/new.toml", "translate ~/.fetchmailrc into a new file (> empties an existing one first); then fetchd check -c it and move it into place"},
			{"fetchd import-config getmail ~/.config/getmail/getmailrc-*", "merge several getmail rc files, one per account, into one configuration"},
			{"fetchd import-config --secrets-dir /etc/fetchd/secrets mpop /root/.mpoprc", "root's mpop accounts, their passwords into files under /etc/fetchd/secrets"},
		}},
	{name: "import-state", args: "fetchmail|mpop|getmail [PATH]", words: []string{"fetchmail", "mpop", "getmail"}, files: true,
		summary: "import what fetchmail, mpop or getmail already fetched",
		doc:     `Record as delivered the messages another program fetched and left on the server, for the configured accounts with the same server and user, so that the next poll of a keep-mode mailbox does not fetch them again. It reads fetchmail's .fetchids, mpop's UIDL files or getmail's oldmail-* files; PATH defaults to where the program keeps them (~/.fetchids, ~/.mpop_uidls, ~/.config/getmail or ~/.getmail). Run it after fetchd import-config and before the first poll.`,
		examples: []example{
			{"fetchd import-state fetchmail", "import ~/.fetchids"},
			{"fetchd import-state --dry-run mpop ~/.mpop_uidls", "show what would be imported, writing nothing"},
		}},
	{name: "completion", args: "bash|zsh", words: []string{"bash", "zsh"}, noFlags: true,
		summary: "print a shell completion script",
		doc:     `Print the completion script for bash or zsh: commands, their flags, and account names (read with fetchd check). Packages install it already; to use it by hand, source it from your shell's startup file.`,
		examples: []example{
			{`source <(fetchd completion bash)`, "in ~/.bashrc"},
			{`fetchd completion zsh > "${fpath[1]}/_fetchd"`, "for zsh, then start a new shell"},
		}},
	{name: "help", args: "[COMMAND]", noFlags: true,
		summary: "list the commands, or show one command's flags and examples",
		doc:     `Without a command, list the commands; with one, show what fetchd COMMAND --help shows, on stdout.`,
		examples: []example{
			{"fetchd help once", "once's flags and examples"},
		}},
	{name: "version", args: "", noFlags: true,
		summary: "print the version",
		doc:     `Print fetchd's version (also fetchd --version).`,
		examples: []example{
			{"fetchd version", ""},
		}},
}

// findCommand returns the command named name, or nil.
func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}
