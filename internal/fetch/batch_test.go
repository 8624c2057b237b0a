package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"fetchd/internal/deliver"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// Tests of the batch path (batch.go): an account whose one target is a
// maildir, against a server that announces PIPELINING, so that RETRs go out
// ahead and DELEs without waiting.

// batchMsgs returns n messages with distinct bodies: lines that need
// dot-stuffing in each, and every 17th about 100 KB, so that the pipelining
// window is bounded by size as well as by count. UIDLs are prefix000….
func batchMsgs(prefix string, n int) []pop3test.Message {
	var ms []pop3test.Message
	for i := range n {
		var b strings.Builder
		fmt.Fprintf(&b, "Subject: %s %d\r\nMessage-ID: <%s.%d@example.com>\r\n\r\n", prefix, i, prefix, i)
		b.WriteString(".leading dot\r\n..two dots\r\n.\r\n")
		lines := 1 + i%7
		if i%17 == 0 {
			lines = 3000
		}
		for l := range lines {
			fmt.Fprintf(&b, "%s %d line %d\r\n", prefix, i, l)
		}
		ms = append(ms, msg(fmt.Sprintf("%s%03d", prefix, i), b.String()))
	}
	return ms
}

// lf is a message as the maildir stores it.
func lf(m pop3test.Message) string { return strings.ReplaceAll(string(m.Body), "\r\n", "\n") }

// newBatchEnv is newEnv with a server that announces PIPELINING.
func newBatchEnv(t *testing.T, msgs []pop3test.Message, configure func(*pop3test.Server)) *env {
	t.Helper()
	return newEnv(t, msgs, func(s *pop3test.Server) {
		s.Pipelining = true
		if configure != nil {
			configure(s)
		}
	})
}

// mail returns the contents of the files in the maildir's new/ and cur/.
func (e *env) mail() []string {
	e.t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(e.maildir, sub))
		if err != nil {
			e.t.Fatal(err)
		}
		for _, de := range entries {
			b, err := os.ReadFile(filepath.Join(e.maildir, sub, de.Name()))
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	return out
}

// checkMail fails the test unless the maildir (new/ and cur/) holds each
// of want exactly once, byte for byte, and nothing else.
func (e *env) checkMail(want []pop3test.Message) {
	e.t.Helper()
	count := map[string]int{}
	for _, m := range e.mail() {
		count[m]++
	}
	var missing, twice []string
	for _, m := range want {
		switch n := count[lf(m)]; {
		case n == 0:
			missing = append(missing, m.UID)
		case n > 1:
			twice = append(twice, fmt.Sprintf("%s×%d", m.UID, n))
		}
		delete(count, lf(m))
	}
	if len(missing) > 0 {
		e.t.Errorf("%d messages missing from the maildir: %v", len(missing), missing)
	}
	if len(twice) > 0 {
		e.t.Errorf("%d messages delivered more than once: %v", len(twice), twice)
	}
	for m, n := range count {
		e.t.Errorf("maildir holds %d× a message that is not expected (or not byte-exact): %.80q", n, m)
	}
}

// inMaildir returns the UIDLs of msgs whose content is in the maildir.
func (e *env) inMaildir(msgs []pop3test.Message) []string {
	e.t.Helper()
	have := map[string]bool{}
	for _, m := range e.mail() {
		have[m] = true
	}
	var out []string
	for _, m := range msgs {
		if have[lf(m)] {
			out = append(out, m.UID)
		}
	}
	return out
}

func (e *env) assertTmpEmpty() {
	e.t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.maildir, "tmp"))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, de := range entries {
		e.t.Errorf("tmp/%s left behind", de.Name())
	}
}

func (e *env) progress() map[string]state.Progress {
	e.t.Helper()
	p, err := e.store.Progress(e.account.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) seen() map[string]state.Record {
	e.t.Helper()
	s, err := e.store.Seen(e.account.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// checkRecords fails the test unless the store records exactly the UIDLs
// of msgs, each in state st with the listed size.
func (e *env) checkRecords(msgs []pop3test.Message, st state.RecordState) {
	e.t.Helper()
	seen := e.seen()
	if len(seen) != len(msgs) {
		e.t.Errorf("store records %d messages, want %d", len(seen), len(msgs))
	}
	for _, m := range msgs {
		rec, ok := seen[m.UID]
		if !ok || rec.State != st || rec.Size != int64(len(m.Body)) || rec.Delivered.IsZero() {
			e.t.Errorf("record of %s = %+v (present %v), want state %v, size %d", m.UID, rec, ok, st, len(m.Body))
		}
	}
}

func uids(msgs []pop3test.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	sort.Strings(out)
	return out
}

// txID returns the id of the store's last commit, reading the bbolt file
// with the store closed; the env gets a store opened again.
func (e *env) txID() int {
	e.t.Helper()
	path := e.store.Path()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	var id int
	db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil })
	db.Close()
	store, err := state.Open(path, time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { store.Close() })
	e.store, e.poller.Store = store, store
	return id
}

// commitsOf returns how many bbolt commits poll made, not counting those
// that opening the store makes.
func (e *env) commitsOf(poll func()) int {
	e.t.Helper()
	a := e.txID()
	b := e.txID() // a close and an open: what opening costs
	poll()
	c := e.txID()
	return c - b - (b - a)
}

// A pipelining server with 200 messages, delete mode: each delivered once,
// byte-exact, recorded and deleted, nothing left half done.
func TestBatch_DeleteMode(t *testing.T) {
	msgs := batchMsgs("d", 200)
	e := newBatchEnv(t, msgs, nil)
	res := e.poll()
	if !res.OK() || res.New != 200 || res.Fetched != 200 || res.Deleted != 200 {
		t.Fatalf("poll %+v, want 200 new, fetched and deleted", res)
	}
	var bytes int64
	for _, m := range msgs {
		bytes += int64(len(m.Body))
	}
	if res.Bytes < bytes {
		t.Errorf("poll counted %d bytes, want at least %d", res.Bytes, bytes)
	}
	e.checkMail(msgs)
	if got := e.remainingUIDs(); len(got) != 0 {
		t.Errorf("server still holds %d messages: %v", len(got), got)
	}
	e.checkRecords(msgs, state.Deleted)
	if p := e.progress(); len(p) != 0 {
		t.Errorf("%d progress entries left: %v", len(p), p)
	}
	e.assertTmpEmpty()
	e.assertSpoolEmpty()
	for _, m := range msgs {
		if n := e.srv.Retrieved()[m.UID]; n != 1 {
			t.Errorf("message %s retrieved %d times, want 1", m.UID, n)
		}
	}
	if res := e.poll(); !res.OK() || res.Listed != 0 || res.Fetched != 0 {
		t.Errorf("second poll %+v, want an empty mailbox", res)
	}
}

// Keep mode: the same 200 delivered once and recorded, the server
// untouched, and a second poll fetches nothing.
func TestBatch_KeepMode(t *testing.T) {
	msgs := batchMsgs("k", 200)
	e := newBatchEnv(t, msgs, nil)
	e.account.Keep = true
	res := e.poll()
	if !res.OK() || res.Fetched != 200 || res.Deleted != 0 {
		t.Fatalf("poll %+v, want 200 fetched, none deleted", res)
	}
	e.checkMail(msgs)
	e.checkRecords(msgs, state.Delivered)
	if p := e.progress(); len(p) != 0 {
		t.Errorf("%d progress entries left: %v", len(p), p)
	}
	e.assertTmpEmpty()
	for _, c := range e.srv.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), "DELE") {
			t.Fatalf("keep mode sent %q", c)
		}
	}
	if got := e.remainingUIDs(); !slices.Equal(got, uids(msgs)) {
		t.Errorf("server holds %d messages, want all 200 kept", len(got))
	}

	res = e.poll()
	if !res.OK() || res.Listed != 200 || res.New != 0 || res.Fetched != 0 {
		t.Fatalf("second poll %+v, want 200 listed and nothing new", res)
	}
	e.checkMail(msgs)
	for _, m := range msgs {
		if n := e.srv.Retrieved()[m.UID]; n != 1 {
			t.Errorf("message %s retrieved %d times over two polls, want 1", m.UID, n)
		}
	}
}

// oneAtATime hides the maildir's StageUnsynced: the account keeps the
// one-at-a-time path.
type oneAtATime struct{ deliver.Deliverer }

// slowDisk is a maildir on a disk whose directory fsync takes a while, as
// a real disk's does (on tmpfs it costs nothing).
type slowDisk struct{ *deliver.Maildir }

func (s slowDisk) SyncDir() error {
	time.Sleep(20 * time.Millisecond)
	return s.Maildir.SyncDir()
}

// The batch path shares its bbolt commits among the messages of a batch:
// 200 messages cost fewer commits than messages, where one at a time takes
// two each (intent, record). How large batches grow depends on how fast
// commits are against the stream of messages; with a directory fsync of
// 20 ms they are large.
func TestBatch_FewCommits(t *testing.T) {
	const n = 200
	tests := []struct {
		name     string
		wrap     func(md *deliver.Maildir) deliver.Deliverer
		min, max int
	}{
		{"one at a time", func(md *deliver.Maildir) deliver.Deliverer { return oneAtATime{md} }, 2 * n, 3 * n},
		{"batch", func(md *deliver.Maildir) deliver.Deliverer { return md }, 2, n},
		{"batch, slow disk", func(md *deliver.Maildir) deliver.Deliverer { return slowDisk{md} }, 2, n / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := batchMsgs("c", n)
			e := newBatchEnv(t, msgs, nil)
			e.account.Targets[0].Deliverer = tt.wrap(e.account.Targets[0].Deliverer.(*deliver.Maildir))
			var res Result
			commits := e.commitsOf(func() { res = e.poll() })
			if !res.OK() || res.Fetched != n || res.Deleted != n {
				t.Fatalf("poll %+v, want %d fetched and deleted", res, n)
			}
			e.checkMail(msgs)
			t.Logf("%d messages: %d bbolt commits", n, commits)
			if commits < tt.min || commits > tt.max {
				t.Errorf("%d messages took %d bbolt commits, want %d to %d", n, commits, tt.min, tt.max)
			}
		})
	}
}

// tmpBreaker is a maildir whose tmp/ is a plain file while the messages
// from to to-1 (counting StageUnsynced calls from 1) are staged. Before it
// breaks tmp/, it waits until the messages before are linked and gone from
// tmp/; from must be at most 3, so that the committer, which may hold one
// batch that the poll goroutine has not collected, cannot wait for it.
type tmpBreaker struct {
	*deliver.Maildir
	t        *testing.T
	from, to int
	calls    int
}

func (b *tmpBreaker) StageUnsynced(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.MaildirStaged, error) {
	b.calls++
	tmp := filepath.Join(b.Path, "tmp")
	switch b.calls {
	case b.from:
		deadline := time.Now().Add(10 * time.Second)
		for {
			newEntries, _ := os.ReadDir(filepath.Join(b.Path, "new"))
			tmpEntries, _ := os.ReadDir(tmp)
			if len(newEntries) == b.from-1 && len(tmpEntries) == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.t.Errorf("the first %d messages were not linked within 10s", b.from-1)
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err := errors.Join(os.Rename(tmp, tmp+".away"), os.WriteFile(tmp, nil, 0o600)); err != nil {
			b.t.Error(err)
		}
	case b.to:
		if err := errors.Join(os.Remove(tmp), os.Rename(tmp+".away", tmp)); err != nil {
			b.t.Error(err)
		}
	}
	return b.Maildir.StageUnsynced(ctx, env, body)
}

// replaceWithFile puts a plain file where dir was and returns what undoes
// it. Root ignores permission bits; a file where a directory should be
// stops root too.
func replaceWithFile(t *testing.T, dir string) (restore func()) {
	t.Helper()
	if err := errors.Join(os.Rename(dir, dir+".away"), os.WriteFile(dir, nil, 0o600)); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := errors.Join(os.Remove(dir), os.Rename(dir+".away", dir)); err != nil {
			t.Fatal(err)
		}
	}
}

// A message the maildir cannot take on the batch path is counted failed,
// stays on the server, and gets a progress entry with one attempt; the
// messages around it are delivered. Once the fault is gone, the next poll
// delivers it, once.
func TestBatch_WriteFailure(t *testing.T) {
	const n = 20
	tests := []struct {
		name string
		// fault breaks the maildir for the first poll; the returned func
		// mends it.
		fault func(t *testing.T, e *env) func()
		// failed are the indexes of the messages that fail.
		failed []int
		// planned: the intent record was committed before the failure.
		planned bool
	}{
		{"tmp/ a file for messages 3-5", func(t *testing.T, e *env) func() {
			md := e.account.Targets[0].Deliverer.(*deliver.Maildir)
			// It stays: later polls make more calls, past to.
			e.account.Targets[0].Deliverer = &tmpBreaker{Maildir: md, t: t, from: 3, to: 6}
			return func() {}
		}, []int{2, 3, 4}, false},
		{"tmp/ a file for the whole poll", func(t *testing.T, e *env) func() {
			return replaceWithFile(t, filepath.Join(e.maildir, "tmp"))
		}, seq(0, n), false},
		{"new/ a file: every link fails after its intent", func(t *testing.T, e *env) func() {
			return replaceWithFile(t, filepath.Join(e.maildir, "new"))
		}, seq(0, n), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := batchMsgs("w", n)
			e := newBatchEnv(t, msgs, nil)
			var failed, delivered []pop3test.Message
			for i, m := range msgs {
				if slices.Contains(tt.failed, i) {
					failed = append(failed, m)
				} else {
					delivered = append(delivered, m)
				}
			}
			mend := tt.fault(t, e)
			res := e.poll()
			mend()
			if res.Err != nil || res.Failed != len(failed) || res.Fetched != len(delivered) || res.Deleted != len(delivered) {
				t.Fatalf("poll %+v, want %d fetched and deleted, %d failed, no session error", res, len(delivered), len(failed))
			}
			e.checkMail(delivered)
			if got := e.remainingUIDs(); !slices.Equal(got, uids(failed)) {
				t.Errorf("server holds %v, want the failed %v", got, uids(failed))
			}
			e.checkRecords(delivered, state.Deleted)
			prog := e.progress()
			if len(prog) != len(failed) {
				t.Errorf("%d progress entries, want %d (one per failed message)", len(prog), len(failed))
			}
			for _, m := range failed {
				p, ok := prog[m.UID]
				switch {
				case !ok:
					t.Errorf("no progress entry for failed message %s", m.UID)
				case p.Attempts != 1 || p.Failed || p.FailedAt.IsZero() || len(p.Done) != 0:
					t.Errorf("progress of %s = %+v, want 1 attempt, a failure time, not held, nothing done", m.UID, p)
				case !strings.Contains(p.Reason, "not a directory"):
					t.Errorf("progress of %s has reason %q, want the maildir's error", m.UID, p.Reason)
				case tt.planned && len(p.Planned) != 1:
					t.Errorf("progress of %s plans %v, want the intent kept: the link may have happened", m.UID, p.Planned)
				case !tt.planned && len(p.Planned) != 0:
					t.Errorf("progress of %s plans %v, want nothing: no file was ever staged", m.UID, p.Planned)
				}
			}
			e.assertTmpEmpty()

			res = e.poll()
			if !res.OK() || res.Fetched != len(failed) || res.Deleted != len(failed) {
				t.Fatalf("poll after the fault is gone %+v, want the %d failed fetched and deleted", res, len(failed))
			}
			e.checkMail(msgs)
			if got := e.remainingUIDs(); len(got) != 0 {
				t.Errorf("server still holds %v", got)
			}
			e.checkRecords(msgs, state.Deleted)
			if p := e.progress(); len(p) != 0 {
				t.Errorf("progress left: %+v", p)
			}
			e.assertTmpEmpty()
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// A message with progress from an earlier poll takes the one-at-a-time
// path, in the middle of new messages that take the batch path, and is
// neither lost nor duplicated.
func TestBatch_PriorProgressAmongNewMessages(t *testing.T) {
	const n, special = 40, 10
	tests := []struct {
		name string
		// prepare puts what an earlier, interrupted poll left: progress for
		// message m, perhaps a file. It returns how often the server may
		// have sent m at most.
		prepare func(t *testing.T, e *env, m pop3test.Message) (retrievals int)
	}{
		{"planned file in new/ (crash after the link)", func(t *testing.T, e *env, m pop3test.Message) int {
			path := filepath.Join(e.maildir, "new", "1700000000.M1P1Q1.host,S=1")
			writeFile(t, path, lf(m))
			setProgress(t, e, m.UID, state.Progress{Planned: map[string]string{targetID(e): path}})
			return 0
		}},
		{"planned file moved to cur/ by a reader", func(t *testing.T, e *env, m pop3test.Message) int {
			name := "1700000000.M1P1Q1.host,S=1"
			writeFile(t, filepath.Join(e.maildir, "cur", name+":2,S"), lf(m))
			setProgress(t, e, m.UID, state.Progress{Planned: map[string]string{targetID(e): filepath.Join(e.maildir, "new", name)}})
			return 0
		}},
		{"planned file missing (crash before the link)", func(t *testing.T, e *env, m pop3test.Message) int {
			setProgress(t, e, m.UID, state.Progress{Planned: map[string]string{targetID(e): filepath.Join(e.maildir, "new", "1700000000.M1P1Q1.host,S=1")}})
			return 1
		}},
		{"target done, record missing", func(t *testing.T, e *env, m pop3test.Message) int {
			writeFile(t, filepath.Join(e.maildir, "new", "1700000000.M1P1Q1.host,S=1"), lf(m))
			setProgress(t, e, m.UID, state.Progress{Done: map[string]time.Time{targetID(e): time.Now()}})
			// retrPlan plans a RETR for it (it looks only at Planned and
			// Spool); its body is read and discarded.
			return 1
		}},
		{"earlier temporary failure", func(t *testing.T, e *env, m pop3test.Message) int {
			setProgress(t, e, m.UID, state.Progress{Reason: "disk full", FailedAt: time.Now().Add(-time.Hour), Attempts: 2})
			return 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := batchMsgs("p", n)
			e := newBatchEnv(t, msgs, nil)
			maxRetr := tt.prepare(t, e, msgs[special])
			res := e.poll()
			if !res.OK() || res.Fetched != n || res.Deleted != n {
				t.Fatalf("poll %+v, want all %d fetched and deleted", res, n)
			}
			e.checkMail(msgs)
			if got := e.remainingUIDs(); len(got) != 0 {
				t.Errorf("server still holds %v", got)
			}
			e.checkRecords(msgs, state.Deleted)
			if p := e.progress(); len(p) != 0 {
				t.Errorf("progress left: %+v", p)
			}
			e.assertTmpEmpty()
			retrieved := e.srv.Retrieved()
			if got := retrieved[msgs[special].UID]; got > maxRetr {
				t.Errorf("message %s retrieved %d times, want at most %d", msgs[special].UID, got, maxRetr)
			}
			var again []string
			for _, m := range msgs {
				if retrieved[m.UID] > 1 {
					again = append(again, m.UID)
				}
			}
			if len(again) > 0 {
				// Not a loss nor a duplicate: RETRs sent ahead whose
				// bodies were read and discarded, and sent again.
				t.Logf("%d messages retrieved more than once: %v", len(again), again)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func targetID(e *env) string { return e.account.Targets[0].Deliverer.String() }

func setProgress(t *testing.T, e *env, uidl string, p state.Progress) {
	t.Helper()
	if err := e.store.SetProgress(e.account.Key, uidl, p); err != nil {
		t.Fatal(err)
	}
}

// countStaged is a maildir that counts the messages received whole and
// staged on the batch path: StageUnsynced returns only after reading the
// body to its end.
type countStaged struct {
	*deliver.Maildir
	n int
}

func (c *countStaged) StageUnsynced(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.MaildirStaged, error) {
	st, err := c.Maildir.StageUnsynced(ctx, env, body)
	if err == nil {
		c.n++
	}
	return st, err
}

// The connection breaks in the middle of a poll of 100 messages: nothing
// is lost or duplicated, what was received whole before the break is
// delivered and recorded, and the next poll finishes the job cleanly.
func TestBatch_ConnectionDrop(t *testing.T) {
	const n = 100
	tests := []struct {
		name   string
		faults pop3test.Faults
		keep   bool
		// maxFirst is the most messages the first poll can deliver.
		maxFirst int
	}{
		{"DropAt RETR 50", pop3test.Faults{Sessions: 1, DropAt: "RETR 50"}, false, 49},
		{"DropAt RETR 50, keep mode", pop3test.Faults{Sessions: 1, DropAt: "RETR 50"}, true, 49},
		{"body of message 50 cut", pop3test.Faults{Sessions: 1, DropAtBody: 2000, DropAtBodyMsg: 50}, false, 49},
		{"body of message 52 cut", pop3test.Faults{Sessions: 1, DropAtBody: 20000, DropAtBodyMsg: 52}, false, 51},
		{"DropAt DELE 30", pop3test.Faults{Sessions: 1, DropAt: "DELE 30"}, false, n},
		{"DropAt QUIT", pop3test.Faults{Sessions: 1, DropAt: "QUIT"}, false, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := batchMsgs("x", n)
			e := newBatchEnv(t, msgs, func(s *pop3test.Server) { s.Faults = tt.faults })
			e.account.Keep = tt.keep
			staged := &countStaged{Maildir: e.account.Targets[0].Deliverer.(*deliver.Maildir)}
			e.account.Targets[0].Deliverer = staged
			first := e.poll()
			firstStaged := staged.n
			if first.Err == nil {
				t.Fatalf("first poll %+v, want an error: the connection broke", first)
			}
			got := e.inMaildir(msgs)
			t.Logf("first poll delivered %d: %+v", len(got), first)
			e.checkMail(msgs[:len(got)]) // in order, each once, nothing else
			if len(got) > tt.maxFirst {
				t.Errorf("first poll delivered %d messages, want at most %d", len(got), tt.maxFirst)
			}
			if len(got) == 0 || len(got) != firstStaged {
				t.Errorf("first poll delivered %d messages, and received %d whole: each received whole before the break must be delivered",
					len(got), firstStaged)
			}
			if first.Fetched != len(got) {
				t.Errorf("first poll counted %d fetched, the maildir holds %d", first.Fetched, len(got))
			}
			e.checkRecords(msgs[:len(got)], state.Delivered)
			if p := e.progress(); len(p) != 0 {
				t.Errorf("progress left after the break: %+v", p)
			}
			e.assertTmpEmpty()
			if got := e.remainingUIDs(); len(got) != n {
				t.Errorf("server holds %d messages after the break, want all %d (no QUIT: DELEs rolled back)", len(got), n)
			}

			second := e.poll()
			wantDeleted := n
			if tt.keep {
				wantDeleted = 0
			}
			if !second.OK() || second.Fetched != n-len(got) || second.Deleted != wantDeleted {
				t.Fatalf("second poll %+v, want the other %d fetched and %d deleted", second, n-len(got), wantDeleted)
			}
			e.checkMail(msgs)
			wantState := state.Deleted
			if tt.keep {
				wantState = state.Delivered
			}
			e.checkRecords(msgs, wantState)
			if p := e.progress(); len(p) != 0 {
				t.Errorf("progress left: %+v", p)
			}
			e.assertTmpEmpty()
			if got := e.remainingUIDs(); len(got) != n-wantDeleted {
				t.Errorf("server holds %d messages, want %d", len(got), n-wantDeleted)
			}
			if res := e.poll(); !res.OK() || res.Fetched != 0 {
				t.Errorf("third poll %+v, want nothing to do", res)
			}
		})
	}
}

// drainAt is a maildir that closes drain while it stages the at-th message
// (counting StageUnsynced calls from 1).
type drainAt struct {
	*deliver.Maildir
	at, calls int
	drain     chan struct{}
}

func (d *drainAt) StageUnsynced(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.MaildirStaged, error) {
	d.calls++
	if d.calls == d.at {
		close(d.drain)
	}
	return d.Maildir.StageUnsynced(ctx, env, body)
}

// Drain closed mid-poll: the poll returns ErrDrained after the messages
// handed over are delivered, recorded and DELEd before QUIT; the rest stay
// on the server, and the next poll fetches them, nothing twice.
func TestBatch_Drain(t *testing.T) {
	const n = 100
	for _, at := range []int{1, 10, 64, 65, 99} {
		t.Run(fmt.Sprintf("drain at message %d", at), func(t *testing.T) {
			msgs := batchMsgs("r", n)
			e := newBatchEnv(t, msgs, nil)
			drain := make(chan struct{})
			md := e.account.Targets[0].Deliverer.(*deliver.Maildir)
			e.account.Targets[0].Deliverer = &drainAt{Maildir: md, at: at, drain: drain}
			e.poller.Drain = drain
			res := e.poll()
			if !errors.Is(res.Err, ErrDrained) {
				t.Fatalf("poll error %v, want ErrDrained", res.Err)
			}
			if res.Fetched != at || res.Deleted != at || res.Failed != 0 {
				t.Fatalf("poll %+v, want the %d handed over fetched and deleted", res, at)
			}
			e.checkMail(msgs[:at])
			e.checkRecords(msgs[:at], state.Deleted)
			if got := e.remainingUIDs(); !slices.Equal(got, uids(msgs[at:])) {
				t.Errorf("server holds %d messages, want the %d not started", len(got), n-at)
			}
			if p := e.progress(); len(p) != 0 {
				t.Errorf("progress left: %+v", p)
			}
			e.assertTmpEmpty()
			var quit bool
			for _, c := range e.srv.Commands() {
				quit = quit || strings.EqualFold(c, "QUIT")
			}
			if !quit {
				t.Error("drained poll did not end with QUIT")
			}

			e.poller.Drain = nil // the drainAt target stays: it closes drain only once
			if res := e.poll(); !res.OK() || res.Fetched != n-at || res.Deleted != n-at {
				t.Fatalf("second poll %+v, want the other %d", res, n-at)
			}
			e.checkMail(msgs)
			e.checkRecords(msgs, state.Deleted)
			if got := e.remainingUIDs(); len(got) != 0 {
				t.Errorf("server still holds %v", got)
			}
		})
	}
}

// A listing that names one message number twice: those entries are left
// alone (with RETRs sent ahead, both names would be fetched: one message
// delivered twice); the other messages are fetched.
func TestBatch_RepeatedMessageNumber(t *testing.T) {
	msgs := batchMsgs("n", 5)
	list := "+OK\r\n"
	for i, m := range msgs {
		list += fmt.Sprintf("%d %d\r\n", i+1, len(m.Body))
	}
	tests := []struct {
		name      string
		noUIDL    bool
		replies   map[string]string
		untouched []int // message numbers that must stay untouched
	}{
		{"UIDL names 2 twice, two UIDLs", false, map[string]string{
			"UIDL": "+OK\r\n1 n000\r\n2 n001\r\n2 other\r\n3 n002\r\n4 n003\r\n5 n004\r\n.\r\n"}, []int{2}},
		{"UIDL names 2 twice, one UIDL", false, map[string]string{
			"UIDL": "+OK\r\n1 n000\r\n2 n001\r\n3 n002\r\n2 n001\r\n4 n003\r\n5 n004\r\n.\r\n"}, []int{2}},
		{"UIDL names 2 and 4 twice", false, map[string]string{
			"UIDL": "+OK\r\n1 n000\r\n2 n001\r\n4 x\r\n2 y\r\n3 n002\r\n4 n003\r\n5 n004\r\n.\r\n"}, []int{2, 4}},
		{"no UIDL, LIST names 3 twice", true, map[string]string{
			"LIST": strings.Replace(list, "4 ", fmt.Sprintf("3 %d\r\n4 ", len(msgs[2].Body)), 1) + ".\r\n"}, []int{3}},
	}
	for _, tt := range tests {
		for _, pipelining := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/pipelining=%v", tt.name, pipelining), func(t *testing.T) {
				e := newEnv(t, msgs, func(s *pop3test.Server) {
					s.Pipelining = pipelining
					s.NoUIDL = tt.noUIDL
					s.Faults = pop3test.Faults{Replies: tt.replies}
				})
				var kept, fetched []pop3test.Message
				for i, m := range msgs {
					if slices.Contains(tt.untouched, i+1) {
						kept = append(kept, m)
					} else {
						fetched = append(fetched, m)
					}
				}
				// One poll: the scripted listing is the mailbox before it.
				res := e.poll()
				if !res.OK() || res.Fetched != len(fetched) || res.Deleted != len(fetched) {
					t.Fatalf("poll %+v, want %d fetched and deleted", res, len(fetched))
				}
				e.checkMail(fetched)
				if got := e.remainingUIDs(); !slices.Equal(got, uids(kept)) {
					t.Errorf("server holds %v, want %v", got, uids(kept))
				}
				for _, m := range kept {
					if n := e.srv.Retrieved()[m.UID]; n != 0 {
						t.Errorf("message %s, listed twice, retrieved %d times", m.UID, n)
					}
				}
				for _, num := range tt.untouched {
					for _, c := range e.srv.Commands() {
						if strings.EqualFold(c, fmt.Sprintf("RETR %d", num)) || strings.EqualFold(c, fmt.Sprintf("DELE %d", num)) {
							t.Errorf("sent %q for a message listed twice", c)
						}
					}
				}
				if !tt.noUIDL {
					if _, ok := e.seen()["other"]; ok {
						t.Error("the second name of message 2 was recorded")
					}
				}
			})
		}
	}
}

// orderSpy is the account's maildir, watching the batch path's steps: when
// a message is linked, its intent record must be committed and its delivery
// record not yet; when new/ is fsynced, the messages linked since must
// still have no delivery record; in the end every delivered message was
// linked before an fsync of new/.
type orderSpy struct {
	*deliver.Maildir
	e *env
	t *testing.T

	mu        sync.Mutex
	linked    []string // linked, new/ not fsynced since
	dirSynced map[string]bool
}

type orderSpyStaged struct {
	deliver.MaildirStaged
	spy  *orderSpy
	uidl string
}

func (s *orderSpy) StageUnsynced(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.MaildirStaged, error) {
	st, err := s.Maildir.StageUnsynced(ctx, env, body)
	if err != nil {
		return nil, err
	}
	return &orderSpyStaged{MaildirStaged: st, spy: s, uidl: env.UIDL}, nil
}

func (s *orderSpy) recorded(uidl string) bool {
	seen, err := s.e.store.Seen(s.e.account.Key)
	if err != nil {
		s.t.Error(err)
	}
	_, ok := seen[uidl]
	return ok
}

func (st *orderSpyStaged) Link() error {
	s := st.spy
	prog, err := s.e.store.Progress(s.e.account.Key)
	if err != nil {
		s.t.Error(err)
	}
	if got := prog[st.uidl].Planned[s.String()]; got != st.FinalPath() {
		s.t.Errorf("%s linked with intent record %q committed, want %q", st.uidl, got, st.FinalPath())
	}
	if s.recorded(st.uidl) {
		s.t.Errorf("%s recorded as delivered before it was linked", st.uidl)
	}
	if err := st.MaildirStaged.Link(); err != nil {
		return err
	}
	s.mu.Lock()
	s.linked = append(s.linked, st.uidl)
	s.mu.Unlock()
	return nil
}

func (s *orderSpy) SyncDir() error {
	s.mu.Lock()
	linked := s.linked
	s.linked = nil
	s.mu.Unlock()
	for _, uidl := range linked {
		if s.recorded(uidl) {
			s.t.Errorf("%s recorded as delivered before new/ was fsynced", uidl)
		}
	}
	if err := s.Maildir.SyncDir(); err != nil {
		return err
	}
	s.mu.Lock()
	for _, uidl := range linked {
		s.dirSynced[uidl] = true
	}
	s.mu.Unlock()
	return nil
}

// deleGuard starts a proxy to the env's server that checks, as each DELE
// passes, that the store already records the message it deletes (msgs in
// mailbox order: the first session's numbering). The account connects
// through it.
func deleGuard(t *testing.T, e *env, msgs []pop3test.Message) (deles func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after the Close below: cleanups run last first
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	n := 0
	serverAddr := e.srv.Addr()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			srv, err := net.Dial("tcp", serverAddr)
			if err != nil {
				t.Error(err)
				c.Close()
				return
			}
			wg.Go(func() {
				io.Copy(c, srv)
				c.Close()
			})
			wg.Go(func() {
				defer srv.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if verb, arg, _ := strings.Cut(strings.TrimSpace(line), " "); strings.EqualFold(verb, "DELE") {
						num, _ := strconv.Atoi(arg)
						seen, serr := e.store.Seen(e.account.Key)
						switch {
						case serr != nil:
							t.Error(serr)
						case num < 1 || num > len(msgs):
							t.Errorf("DELE %q of no listed message", arg)
						case seen[msgs[num-1].UID].State == 0:
							t.Errorf("DELE %d (%s) sent before the message was recorded as delivered", num, msgs[num-1].UID)
						}
						mu.Lock()
						n++
						mu.Unlock()
					}
					if _, werr := io.WriteString(srv, line); werr != nil || err != nil {
						return
					}
				}
			})
		}
	})
	e.account.Server.Addr = ln.Addr().String()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// The durability order on the batch path: each link covered by a committed
// intent record, each delivery record committed after new/ is fsynced, each
// DELE sent after the record of its message.
func TestBatch_DurabilityOrder(t *testing.T) {
	const n = 200
	msgs := batchMsgs("o", n)
	e := newBatchEnv(t, msgs, nil)
	md := e.account.Targets[0].Deliverer.(*deliver.Maildir)
	spy := &orderSpy{Maildir: md, e: e, t: t, dirSynced: map[string]bool{}}
	e.account.Targets[0].Deliverer = spy
	deles := deleGuard(t, e, msgs)
	res := e.poll()
	if !res.OK() || res.Fetched != n || res.Deleted != n {
		t.Fatalf("poll %+v, want %d fetched and deleted", res, n)
	}
	e.checkMail(msgs)
	e.checkRecords(msgs, state.Deleted)
	if got := deles(); got != n {
		t.Errorf("%d DELEs went through the proxy, want %d", got, n)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	for _, m := range msgs {
		if !spy.dirSynced[m.UID] {
			t.Errorf("%s delivered without an fsync of new/ after its link", m.UID)
		}
	}
}

// lateCalls is a maildir whose methods take a while and note when they
// last returned, and so do those of the messages it stages.
type lateCalls struct {
	*deliver.Maildir
	mu   sync.Mutex
	last time.Time // when the last call returned
}

func (l *lateCalls) called(d time.Duration) {
	time.Sleep(d)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
}

func (l *lateCalls) String() string {
	defer l.called(30 * time.Millisecond)
	return l.Maildir.String()
}

func (l *lateCalls) SyncDir() error {
	defer l.called(10 * time.Millisecond)
	return l.Maildir.SyncDir()
}

func (l *lateCalls) StageUnsynced(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.MaildirStaged, error) {
	defer l.called(0)
	st, err := l.Maildir.StageUnsynced(ctx, env, body)
	if err != nil {
		return nil, err
	}
	return &lateStaged{st, l}, nil
}

type lateStaged struct {
	deliver.MaildirStaged
	l *lateCalls
}

func (s *lateStaged) SyncFile(ctx context.Context) error {
	defer s.l.called(10 * time.Millisecond)
	return s.MaildirStaged.SyncFile(ctx)
}

func (s *lateStaged) Link() error {
	defer s.l.called(10 * time.Millisecond)
	return s.MaildirStaged.Link()
}

func (s *lateStaged) Abort() error {
	defer s.l.called(10 * time.Millisecond)
	return s.MaildirStaged.Abort()
}

// A poll is over when Poll returns: the batch path's goroutines are done
// with the account's target by then. (A committer that still uses it
// afterwards races with a caller that reconfigures or closes it.)
func TestBatch_NothingRunsAfterPoll(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			msgs := batchMsgs("a", 3)
			e := newBatchEnv(t, msgs, nil)
			e.account.Keep = keep
			target := &lateCalls{Maildir: e.account.Targets[0].Deliverer.(*deliver.Maildir)}
			e.account.Targets[0].Deliverer = target
			res := e.poll()
			returned := time.Now()
			if !res.OK() || res.Fetched != len(msgs) {
				t.Fatalf("poll %+v, want %d fetched", res, len(msgs))
			}
			e.checkMail(msgs)
			time.Sleep(100 * time.Millisecond)
			target.mu.Lock()
			defer target.mu.Unlock()
			if target.last.After(returned) {
				t.Errorf("the target was still in use %v after Poll returned", target.last.Sub(returned))
			}
		})
	}
}
