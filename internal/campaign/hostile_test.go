package campaign

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/deliver"
	"fetchd/internal/fetch"
	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// TestHostileCampaign is the hostile-server campaign (issue 4):
//
//	go test ./internal/campaign -run TestHostileCampaign [-campaign.size=full] [-campaign.report]
//
// Every case runs one poll (or a few, for the response-code loops) against
// a server scripted to misbehave, then one poll against a well-behaved
// server holding the same mailbox, and checks what must hold whatever a
// server sends:
//
//   - Poll returns, in the test goroutine (a panic fails the test), within
//     pollBound;
//   - goroutines and open file descriptors come back to their baseline;
//   - every DELE names a message whose body is in the maildir, byte-exact
//     (as the maildir stores it: CRLF → LF), at the time of the check;
//   - new/ holds only complete messages, tmp/ and the spool nothing;
//   - the well-behaved poll then delivers every message exactly once and
//     empties the mailbox;
//   - what the case itself asserts (an error, its class, no credentials…).
//
// The heaviest cases (10 MB lines, endless bodies, huge listings) run each
// in a child process whose peak RSS (rusage Maxrss) must stay ≤ 64 MiB.
func TestHostileCampaign(t *testing.T) {
	all := hostileCases()
	if name := os.Getenv(childEnv); name != "" {
		for i := range all {
			if all[i].id() == name {
				runCase(t, &all[i], nil)
				return
			}
		}
		t.Fatalf("no case %q", name)
	}
	if testing.Short() {
		t.Skip("campaign: not in -short")
	}
	full := *campaignSize == "full"
	var cases []hcase
	for _, c := range all {
		if full || !c.fullOnly {
			cases = append(cases, c)
		}
	}
	want := 100
	if full {
		want = 300
	}
	if len(cases) < want {
		t.Fatalf("%d cases for size %q, want at least %d", len(cases), *campaignSize, want)
	}
	st := &stats{cases: map[string][2]int{}, rss: map[string]int64{}}
	start := time.Now()
	for i := range cases {
		c := &cases[i]
		run := func(t *testing.T) { runCase(t, c, st) }
		if c.heavy {
			run = func(t *testing.T) { runChild(t, c, st) }
		}
		ok := t.Run(c.id(), run)
		st.mu.Lock()
		n := st.cases[c.cat]
		n[0]++
		if ok {
			n[1]++
		} else {
			st.failed = append(st.failed, c.id())
		}
		st.cases[c.cat] = n
		st.mu.Unlock()
	}
	took := time.Since(start)
	t.Logf("%d cases in %s; slowest hostile poll %s (%s)", len(cases), took.Round(time.Millisecond), st.maxPoll, st.maxPollC)
	if *campaignReport {
		if err := UpdateSection(filepath.Join("..", "..", "docs", "RELIABILITY.md"), "hostile", st.report(len(cases), took)); err != nil {
			t.Errorf("report: %v", err)
		}
	}
}

const (
	replyTimeout = 300 * time.Millisecond // pop3.Config.Timeout of every case
	pollBound    = 4 * time.Second        // a hostile poll must end within this
	heavyBound   = 10 * time.Second       // … or this, for the heavy cases
	maxRSS       = 64 << 20
	leakGrace    = 3 * time.Second
	childEnv     = "FETCHD_HOSTILE_CHILD" // set: run only the named heavy case
)

// finalKind says what the well-behaved poll after the hostile ones must achieve.
type finalKind int

const (
	finalAll  finalKind = iota // every message delivered once, the mailbox empty
	finalNone                  // the mailbox stays unfetchable (UIDs no client should store): nothing delivered or deleted
	finalKept                  // case.kept stay on the server (too large); no error
)

// hcase is one scripted hostile server.
type hcase struct {
	cat, name string
	msgs      []pop3test.Message     // mailbox; nil: defaultMsgs
	faults    pop3test.Faults        // for the hostile sessions of the pop3test server
	server    func(*pop3test.Server) // pop3test settings, kept for the honest poll
	raw       *rawSpec               // set: the hostile polls go to a rawServer
	account   func(*fetch.Account, *pop3test.Server)
	polls     int            // hostile polls in a row (loops); 0 → 1
	heavy     bool           // run in a child process that measures peak RSS
	fullOnly  bool           // only with -campaign.size=full
	served    map[int]string // message number → the delivered form the hostile server gave it (a lie fetchd cannot see)
	dupOK     bool           // untracked messages (duplicate UIDs) may be delivered twice
	final     finalKind
	kept      []string // finalKept: UIDs that stay on the server
	wantErr   bool     // every hostile poll must report an error
	check     func(*hrun) error
}

type rawSpec struct {
	greeting rawAction
	on       map[string]rawAction
}

// hrun is what a case's hostile polls produced.
type hrun struct {
	results  []fetch.Result
	commands []string // received by the hostile server, all hostile sessions
	sessions int
}

func (c *hcase) id() string { return c.cat + "/" + c.name }

var defaultMsgs = []pop3test.Message{
	{UID: "a", Body: []byte("Subject: one\r\n\r\nfirst\r\n")},
	{UID: "b", Body: []byte("Subject: two\r\n\r\n.dotted\r\n..two dots\r\nsecond\r\n")},
	{UID: "c", Body: []byte("Subject: three\r\n\r\nthird\r\n")},
}

// form is a message as the maildir stores it: a body that does not end in
// CRLF is served with one appended, and the maildir turns CRLF into LF.
func form(body []byte) string {
	b := string(body)
	if b != "" && !strings.HasSuffix(b, "\r\n") {
		b += "\r\n"
	}
	return strings.ReplaceAll(b, "\r\n", "\n")
}

// stats are the campaign's figures, for the report.
type stats struct {
	mu       sync.Mutex
	cases    map[string][2]int // category → {run, passed}
	maxPoll  time.Duration
	maxPollC string
	rss      map[string]int64 // heavy case → peak RSS of its process
	failed   []string
}

// runCase runs c in this process; st is nil in a child.
func runCase(t *testing.T, c *hcase, st *stats) {
	var logs lockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("fetchd log:\n%s", logs.clip(20000))
		}
	}()
	msgs := c.msgs
	if msgs == nil {
		msgs = defaultMsgs
	}
	// What each message must look like in the maildir, by UID: a lie told
	// by the hostile server sticks to the UID it was told under.
	want := map[string]string{}
	for i, m := range msgs {
		want[m.UID] = form(m.Body)
		if s, ok := c.served[i+1]; ok {
			want[m.UID] = s
		}
	}
	dir := t.TempDir()
	store, err := state.Open(filepath.Join(dir, "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	maildir := filepath.Join(dir, "Maildir")
	md, err := deliver.NewMaildir(maildir)
	if err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o700); err != nil {
		t.Fatal(err)
	}

	// The pop3test server serves the honest poll always, and the hostile
	// ones unless the case needs the raw server.
	srv := pop3test.NewServer(t)
	srv.Messages = msgs
	if c.server != nil {
		c.server(srv)
	}
	polls := max(c.polls, 1)
	var raw *rawServer
	if c.raw != nil {
		raw = newRawServer(t, msgs, c.raw.greeting, c.raw.on)
	} else {
		srv.Faults = c.faults
		srv.Faults.Sessions = polls
	}
	srv.Start()
	a := &fetch.Account{
		Name: "hostile",
		Key:  state.AccountKey{Server: "127.0.0.1", Port: 110, User: "user"},
		Server: pop3.Config{
			Addr: srv.Addr(), TLS: pop3.TLSNone, AllowInsecure: true, Timeout: replyTimeout,
		},
		User:             "user",
		Secret:           func(context.Context) (string, error) { return "pass", nil },
		Targets:          []fetch.Target{{Deliverer: md, Recipients: []string{"me"}, Local: true}},
		SpoolDir:         spool,
		FailedRetryAfter: 24 * time.Hour,
		LocalUser:        "me",
		Hostname:         "testhost",
		Version:          "test",
		ServerName:       "127.0.0.1",
	}
	if c.account != nil {
		c.account(a, srv)
	}
	if raw != nil {
		a.Server.Addr = raw.Addr()
	}
	p := &fetch.Poller{Store: store, Log: zerolog.New(&logs).Level(zerolog.DebugLevel)}
	bound := pollBound
	if c.heavy {
		bound = heavyBound
	}

	// poll runs one poll in this goroutine (a panic is not recovered),
	// checks its time, and that it left nothing running or open.
	poll := func(what string) fetch.Result {
		t.Helper()
		goroutines, fds := runtime.NumGoroutine(), openFDs(t)
		// The deadline only keeps a hung poll from hanging the campaign;
		// a poll that needed it has failed the bound already.
		ctx, cancel := context.WithTimeout(context.Background(), bound+2*time.Second)
		defer cancel()
		start := time.Now()
		res := p.Poll(ctx, a)
		took := time.Since(start)
		fmt.Fprintf(&logs, "--- %s poll: took %s, result %+v\n", what, took, res)
		if took > bound {
			t.Errorf("%s poll took %s, more than %s (err %v)", what, took, bound, res.Err)
		}
		if st == nil {
			fmt.Printf("hostile-poll-took %d\n", took) // read by runChild
		} else {
			st.mu.Lock()
			if took > st.maxPoll {
				st.maxPoll, st.maxPollC = took, c.id()
			}
			st.mu.Unlock()
		}
		checkLeaks(t, what, goroutines, fds)
		return res
	}

	// The hostile polls.
	r := &hrun{}
	for i := range polls {
		before, box := len(commandsOf(srv, raw)), mailboxOf(srv, raw)
		r.results = append(r.results, poll(fmt.Sprintf("hostile #%d", i+1)))
		cmds := commandsOf(srv, raw)[before:]
		r.commands = append(r.commands, cmds...)
		checkDeles(t, "hostile", cmds, box, want, maildir)
	}
	if raw != nil {
		r.sessions = raw.Sessions()
	} else {
		r.sessions = srv.Sessions()
	}
	checkMaildir(t, maildir, spool, want, c.dupOK)
	if c.wantErr {
		for i, res := range r.results {
			if res.Err == nil {
				t.Errorf("hostile poll #%d reported no error: %+v", i+1, res)
			}
		}
	}
	if c.check != nil {
		if err := c.check(r); err != nil {
			t.Errorf("hostile: %v", err)
		}
	}

	// The well-behaved poll, against the mailbox the hostile server left.
	if raw != nil {
		box := raw.Mailbox()
		raw.Close()
		srv.Close()
		srv = pop3test.NewServer(t)
		srv.Messages = box
		if c.server != nil {
			c.server(srv)
		}
		srv.Start()
		a.Server.Addr = srv.Addr()
	} else {
		srv.SetFaults(pop3test.Faults{})
	}
	// The honest poll tests what the hostile one left, not timeouts: on a
	// loaded machine a 300 ms connect can fail and prove nothing.
	a.Server.Timeout = 10 * replyTimeout
	before, box := len(srv.Commands()), srv.Mailbox()
	res := poll("honest")
	checkDeles(t, "honest", srv.Commands()[before:], box, want, maildir)
	checkMaildir(t, maildir, spool, want, c.dupOK)
	checkFinal(t, c, msgs, want, res, srv, maildir)
}

func commandsOf(srv *pop3test.Server, raw *rawServer) []string {
	if raw != nil {
		return raw.Commands()
	}
	return srv.Commands()
}

func mailboxOf(srv *pop3test.Server, raw *rawServer) []pop3test.Message {
	if raw != nil {
		return raw.Mailbox()
	}
	return srv.Mailbox()
}

// checkDeles: every DELE of the session names a message, in the numbering
// of box (the mailbox when the session began), that is in the maildir.
func checkDeles(t *testing.T, what string, cmds []string, box []pop3test.Message, want map[string]string, maildir string) {
	t.Helper()
	have := map[string]bool{}
	for _, m := range delivered(t, maildir) {
		have[m] = true
	}
	for _, cmd := range cmds {
		verb, arg, _ := strings.Cut(cmd, " ")
		if !strings.EqualFold(verb, "DELE") {
			continue
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > len(box) {
			t.Errorf("%s: %q names no message (mailbox of %d)", what, cmd, len(box))
			continue
		}
		m := box[n-1]
		if !have[want[m.UID]] {
			t.Errorf("%s: %q sent for message %d (UID %q), whose body %q is not in the maildir", what, cmd, n, clipS(m.UID), clipS(want[m.UID]))
		}
	}
}

// checkMaildir: new/ holds only complete messages (each some message's
// delivered form, once unless dupOK); tmp/ and the spool are empty.
func checkMaildir(t *testing.T, maildir, spool string, want map[string]string, dupOK bool) {
	t.Helper()
	allowed := map[string]bool{}
	for _, f := range want {
		allowed[f] = true
	}
	count := map[string]int{}
	for _, m := range delivered(t, maildir) {
		count[m]++
		if !allowed[m] {
			t.Errorf("maildir holds %q, which is no message of the mailbox: partial or misframed", clipS(m))
		}
	}
	for m, n := range count {
		if n > 1 && !dupOK {
			t.Errorf("maildir holds %q %d times", clipS(m), n)
		}
	}
	for _, d := range []string{filepath.Join(maildir, "tmp"), spool} {
		if entries, _ := os.ReadDir(d); len(entries) != 0 {
			t.Errorf("%s holds %d leftovers", d, len(entries))
		}
	}
}

func checkFinal(t *testing.T, c *hcase, msgs []pop3test.Message, want map[string]string, res fetch.Result, srv *pop3test.Server, maildir string) {
	t.Helper()
	got := delivered(t, maildir)
	var left []string
	for _, m := range srv.Mailbox() {
		left = append(left, m.UID)
	}
	sort.Strings(left)
	switch c.final {
	case finalNone:
		if res.Err == nil {
			t.Errorf("honest poll: no error, want the mailbox still refused: %+v", res)
		}
		if len(got) != 0 || len(left) != len(msgs) {
			t.Errorf("honest poll: maildir holds %d, server %d of %d; want nothing delivered or deleted", len(got), len(left), len(msgs))
		}
		return
	case finalKept:
		if res.Err != nil {
			t.Errorf("honest poll: %v", res.Err)
		}
		if w := slices.Sorted(slices.Values(c.kept)); !slices.Equal(left, w) {
			t.Errorf("honest poll: server holds %q, want %q", left, w)
		}
		return
	}
	if !res.OK() {
		t.Errorf("honest poll: %+v, want every message handled", res)
	}
	var w []string
	for _, m := range msgs {
		w = append(w, want[m.UID])
	}
	sort.Strings(w)
	if c.dupOK {
		got, w = slices.Compact(got), slices.Compact(w)
	}
	if !slices.Equal(got, w) {
		t.Errorf("after the honest poll the maildir holds\n%q\nwant each message once:\n%q", got, w)
	}
	if len(left) != 0 {
		t.Errorf("after the honest poll the server still holds %q", left)
	}
}

// delivered returns the contents of the maildir's new/, sorted.
func delivered(t *testing.T, maildir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(maildir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(maildir, "new", de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count fds: %v", err)
	}
	return len(entries)
}

// checkLeaks waits a grace period for goroutines and fds to come back to
// their baseline. The servers are still up: a client goroutine or socket
// left behind shows, not hidden by the server closing its end.
func checkLeaks(t *testing.T, what string, goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(leakGrace)
	for {
		g, f := runtime.NumGoroutine(), openFDs(t)
		if g <= goroutines && f <= fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%s poll leaked: %d goroutines (baseline %d), %d fds (baseline %d)\n%s", what, g, goroutines, f, fds, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) clip(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > n {
		return s[:n/2] + "\n…\n" + s[len(s)-n/2:]
	}
	return s
}

func clipS(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
