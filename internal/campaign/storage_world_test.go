package campaign

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/bbolt"

	"fetchd/internal/deliver"
	"fetchd/internal/fetch"
	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// storageWorld is one storage scenario: a fake POP3 server, a state store,
// real maildir targets and a spool, wherever the scenario puts them.
type storageWorld struct {
	t        *testing.T
	srv      *pop3test.Server
	want     map[string][]byte // UIDL → the message as a maildir must hold it
	bodyUID  map[string]string // maildir content → UIDL
	maildirs []string
	spool    string
	dbPath   string
	store    *state.Store
	account  *fetch.Account
	poller   *fetch.Poller
	deled    []string // UIDLs DELEd in any session (committed or not)
	// deledUndelivered counts DELEs sent for a message that was not, at that
	// moment, complete in every maildir: the one thing that must never happen.
	deledUndelivered int
	partial          map[string]bool // files in new/ that are not a complete message
	logs             bytes.Buffer    // the poller's log, for the error a full store cannot record
}

// storageMessages makes n distinct messages; sizes[i%len(sizes)] is the
// approximate size of message i.
func storageMessages(n int, sizes ...int) []pop3test.Message {
	var out []pop3test.Message
	for i := range n {
		var b bytes.Buffer
		fmt.Fprintf(&b, "Subject: storage %d\r\nMessage-ID: <s%d@fetchd.test>\r\n\r\n", i, i)
		line := fmt.Sprintf("%03d 0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n", i)
		for b.Len() < sizes[i%len(sizes)] {
			b.WriteString(line)
		}
		out = append(out, pop3test.Message{UID: fmt.Sprintf("storage-%03d", i), Body: b.Bytes()})
	}
	return out
}

// newStorageWorld starts a server holding msgs and an account delivering to
// the maildirs (created), with the state store at dbPath and the spool dir
// spool (created).
func newStorageWorld(t *testing.T, msgs []pop3test.Message, maildirs []string, spool, dbPath string) *storageWorld {
	t.Helper()
	w := &storageWorld{t: t, want: map[string][]byte{}, bodyUID: map[string]string{}, maildirs: maildirs,
		spool: spool, dbPath: dbPath, partial: map[string]bool{}}
	for _, m := range msgs {
		lf := bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n"))
		w.want[m.UID] = lf
		w.bodyUID[string(lf)] = m.UID
	}
	w.srv = pop3test.NewServer(t)
	w.srv.Messages = msgs
	w.srv.Start()
	if err := os.MkdirAll(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	var targets []fetch.Target
	for _, dir := range maildirs {
		md, err := deliver.NewMaildir(dir)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, fetch.Target{Deliverer: md, Recipients: []string{"me"}, Local: true})
	}
	w.account = &fetch.Account{
		Name: "storage",
		Key:  state.AccountKey{Server: "127.0.0.1", Port: 110, User: "user"},
		Server: pop3.Config{
			Addr: w.srv.Addr(), TLS: pop3.TLSNone, AllowInsecure: true, Timeout: 5 * time.Second,
		},
		User:             "user",
		Secret:           func(context.Context) (string, error) { return "pass", nil },
		Targets:          targets,
		SpoolDir:         spool,
		FailedRetryAfter: 24 * time.Hour,
		LocalUser:        "me",
		Hostname:         "testhost",
		Version:          "test",
		ServerName:       "127.0.0.1",
	}
	w.open()
	t.Cleanup(func() {
		if w.store != nil {
			w.store.Close()
		}
	})
	return w
}

func (w *storageWorld) open() {
	w.t.Helper()
	store, err := state.Open(w.dbPath, time.Second)
	if err != nil {
		w.t.Fatalf("open the state store: %v", err)
	}
	w.store = store
	out := io.MultiWriter(zerolog.NewTestWriter(w.t), &w.logs)
	w.poller = &fetch.Poller{Store: store, Log: zerolog.New(out).Level(zerolog.InfoLevel)}
}

// poll runs one poll and checks, from the server's command log, that every
// DELE it sent was for a message every maildir already held in full.
func (w *storageWorld) poll() fetch.Result {
	w.t.Helper()
	box := w.srv.Mailbox() // message n of the session is box[n-1]
	before := len(w.srv.Commands())
	res := w.poller.Poll(context.Background(), w.account)
	have := w.holdings()
	for _, c := range w.srv.Commands()[before:] {
		arg, ok := strings.CutPrefix(strings.ToUpper(c), "DELE ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(arg))
		if err != nil || n < 1 || n > len(box) {
			w.t.Errorf("DELE %q names no listed message", arg)
			continue
		}
		uid := box[n-1].UID
		w.deled = append(w.deled, uid)
		for i, dir := range w.maildirs {
			if have[i][uid] == 0 {
				w.deledUndelivered++
				w.t.Errorf("DELE %d (UIDL %s) sent, but %s does not hold the message", n, uid, dir)
			}
		}
	}
	return res
}

// holdings returns, per maildir, how many complete copies of each message
// new/ holds. A file that is not exactly one of the messages (a partial
// write) fails the test, and so does a leftover in tmp/.
func (w *storageWorld) holdings() []map[string]int {
	w.t.Helper()
	var out []map[string]int
	for _, dir := range w.maildirs {
		count := map[string]int{}
		entries, err := os.ReadDir(filepath.Join(dir, "new"))
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
			if err != nil {
				w.t.Fatal(err)
			}
			uid, ok := w.bodyUID[string(b)]
			if !ok {
				w.partial[filepath.Join(dir, "new", e.Name())] = true
				w.t.Errorf("%s/new/%s (%d bytes) is not a complete message", dir, e.Name(), len(b))
				continue
			}
			count[uid]++
		}
		if tmp := storageList(w.t, filepath.Join(dir, "tmp")); len(tmp) > 0 {
			for _, name := range tmp {
				w.partial[filepath.Join(dir, "tmp", name)] = true
			}
			w.t.Errorf("%s/tmp/ holds %v after the poll", dir, tmp)
		}
		out = append(out, count)
	}
	return out
}

// spoolLeft returns the spool files left behind.
func (w *storageWorld) spoolLeft() []string { return storageList(w.t, w.spool) }

func storageList(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != "filler" && e.Name() != "lost+found" {
			out = append(out, e.Name())
		}
	}
	return out
}

// checkStore closes the store, runs bbolt's consistency check on the file
// and opens it again, as a restarted fetchd would. It reports whether all of
// that worked.
func (w *storageWorld) checkStore() bool {
	w.t.Helper()
	ok := true
	fail := func(format string, args ...any) {
		w.t.Errorf(format, args...)
		ok = false
	}
	if err := w.store.Close(); err != nil {
		fail("close the state store: %v", err)
	}
	w.store = nil
	db, err := bbolt.Open(w.dbPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		w.t.Fatalf("state store does not open after the fault: %v", err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		for e := range tx.Check() {
			return e
		}
		return nil
	})
	db.Close()
	if err != nil {
		fail("bbolt check of the state store: %v", err)
	}
	w.open()
	if _, err := w.store.Seen(w.account.Key); err != nil {
		fail("reading the reopened store: %v", err)
	}
	if _, err := w.store.Progress(w.account.Key); err != nil {
		fail("reading progress from the reopened store: %v", err)
	}
	return ok
}

// failedReasons returns the recorded failure reasons, per UIDL.
func (w *storageWorld) failedReasons() map[string]state.Progress {
	w.t.Helper()
	prog, err := w.store.Progress(w.account.Key)
	if err != nil {
		w.t.Fatal(err)
	}
	return prog
}

// copies sums, over the maildirs, the messages held once, and those held
// more than once (duplicates) and not at all (missing).
func (w *storageWorld) copies() (once, dup, missing int) {
	w.t.Helper()
	for _, count := range w.holdings() {
		for uid := range w.want {
			switch n := count[uid]; {
			case n == 0:
				missing++
			case n == 1:
				once++
			default:
				dup += n - 1
			}
		}
	}
	return once, dup, missing
}

func (w *storageWorld) remaining() []string {
	var out []string
	for _, m := range w.srv.Mailbox() {
		out = append(out, m.UID)
	}
	sort.Strings(out)
	return out
}
