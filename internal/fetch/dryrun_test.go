package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// dumpStore returns every key and value of the bbolt file at path, nested
// buckets included, read with the file opened read-only.
func dumpStore(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bbolt.Bucket) error
	walk = func(prefix string, b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				out[prefix+string(k)+"/"] = ""
				return walk(prefix+string(k)+"/", b.Bucket(k))
			}
			out[prefix+string(k)] = string(v)
			return nil
		})
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			out[string(name)+"/"] = ""
			return walk(string(name)+"/", b)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// treeState lists every file and directory under dir with its size and
// modification time.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s\n", path, fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A dry run decides as a poll does and changes nothing: no RETR, TOP or
// DELE reaches the server, its mailbox stays, the maildir and spool stay,
// and the store file is byte for byte what it was, with the same
// modification time, whether the store is opened read-only (`fetchd once
// --dry-run`) or read-write (through a running daemon).
func TestPoll_DryRunChangesNothing(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type scenario struct {
		name     string
		msgs     []pop3test.Message
		setup    func(*retEnv)
		fetch    []string
		delete   []string // UIDL: reason substring
		skip     []string
		kept     int
		readOnly bool
	}
	keepMode := func(e *retEnv) {
		a := e.account
		a.Keep, a.DeleteAfter, a.MaxMessagesPerPoll, a.MaxMessageSize = true, time.Hour, 2, 3000
		recs := map[string]state.Record{
			"kept": {State: state.Delivered, Delivered: t0.Add(-time.Minute), Size: 100},
			"old":  {State: state.Delivered, Delivered: t0.Add(-2 * time.Hour), Size: 100},
			"imp":  {State: state.Delivered, Delivered: t0.Add(-48 * time.Hour)},
		}
		if err := e.store.MarkDeliveredBatch(a.Key, recs); err != nil {
			e.t.Fatal(err)
		}
		setProgress(e.t, e.env, "held", state.Progress{Failed: true, FailedAt: t0.Add(-time.Minute), Attempts: 1, Reason: "refused"})
		// Leftovers a real poll would tidy: progress with a spool file
		// and an oversize report, both of messages no longer listed.
		spool := filepath.Join(a.SpoolDir, "gone-spool")
		writeFile(e.t, spool, "spooled")
		setProgress(e.t, e.env, "gone", state.Progress{Spool: spool, SpoolSize: 7})
		if err := e.store.NoteOversize(a.Key, "gone-big", state.OversizeNote{Size: 9000, Reported: t0.Add(-time.Hour)}); err != nil {
			e.t.Fatal(err)
		}
	}
	keepMsgs := []pop3test.Message{sized("kept", 100), sized("old", 100), sized("imp", 100), sized("held", 100),
		sized("big", 5000), sized("new1", 100), sized("new2", 100), sized("new3", 100)}
	deleteMode := func(e *retEnv) {
		a := e.account
		a.MaxMessageSize, a.OversizeDelete = 3000, true
		if err := e.store.MarkDelivered(a.Key, "done", 100, t0.Add(-time.Minute)); err != nil {
			e.t.Fatal(err)
		}
	}
	deleteMsgs := []pop3test.Message{sized("done", 100), sized("huge", 5000), sized("fresh", 100)}
	var scenarios []scenario
	for _, ro := range []bool{true, false} {
		scenarios = append(scenarios,
			scenario{"keep", keepMsgs, keepMode, []string{"new1", "new2"},
				[]string{"old: delete_after (1h0m0s) expired"},
				[]string{"imp: its size is not recorded", "held: held after a permanent failure", "big: over max_message_size (3000 bytes): left", "new3: beyond max_messages_per_poll = 2"},
				1, ro},
			scenario{"delete", deleteMsgs, deleteMode, []string{"fresh"},
				[]string{"done: delivered earlier and not yet deleted", "huge: over max_message_size (3000 bytes): deleted without delivery"},
				nil, 0, ro},
		)
	}
	for _, sc := range scenarios {
		t.Run(fmt.Sprintf("%s/readonly=%v", sc.name, sc.readOnly), func(t *testing.T) {
			e := newRetEnv(t, deliveryPaths[0], sc.msgs, nil)
			e.now = t0
			sc.setup(e)
			path := e.store.Path()
			if err := e.store.Close(); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			dump, file := dumpStore(t, path), readAll(t, path)
			mailbox, maildir, spool := e.srv.Mailbox(), treeState(t, e.maildir), treeState(t, e.account.SpoolDir)

			open := state.Open
			if sc.readOnly {
				open = state.OpenReadOnly
			}
			store, err := open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			e.poller.Store = store
			e.account.DryRun = true
			progress := 0
			e.account.OnProgress = func(Progress) { progress++ }
			res := e.poll()
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			if res.Err != nil || res.Preview == nil {
				t.Fatalf("dry run %+v", res)
			}
			pv := res.Preview
			var fetch []string
			for _, it := range pv.Fetch {
				fetch = append(fetch, it.UIDL)
			}
			if strings.Join(fetch, " ") != strings.Join(sc.fetch, " ") {
				t.Errorf("would fetch %q, want %q", fetch, sc.fetch)
			}
			checkItems(t, "delete", pv.Delete, sc.delete)
			checkItems(t, "skip", pv.Skip, sc.skip)
			if pv.Kept != sc.kept {
				t.Errorf("kept %d, want %d", pv.Kept, sc.kept)
			}
			if res.Fetched != 0 || res.Deleted != 0 || progress != 0 || len(e.notified()) != 0 {
				t.Errorf("dry run counted %d fetched, %d deleted, %d progress reports, notified %q; want none", res.Fetched, res.Deleted, progress, e.notified())
			}

			for _, c := range e.srv.Commands() {
				verb, _, _ := strings.Cut(strings.ToUpper(c), " ")
				if verb == "RETR" || verb == "DELE" || verb == "TOP" || verb == "RSET" {
					t.Errorf("the dry run sent %q", c)
				}
			}
			if got := e.srv.Mailbox(); fmt.Sprint(got) != fmt.Sprint(mailbox) {
				t.Errorf("server mailbox changed: %d messages, was %d", len(got), len(mailbox))
			}
			if got := treeState(t, e.maildir); got != maildir {
				t.Errorf("maildir changed:\n%s\nwas:\n%s", got, maildir)
			}
			if got := treeState(t, e.account.SpoolDir); got != spool {
				t.Errorf("spool changed:\n%s\nwas:\n%s", got, spool)
			}
			if got := dumpStore(t, path); fmt.Sprint(got) != fmt.Sprint(dump) {
				t.Errorf("store contents changed:\n%q\nwas:\n%q", got, dump)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readAll(t, path), file) || !fi.ModTime().Equal(old) {
				t.Errorf("store file changed: %d bytes (was %d), mtime %v (was %v)", fi.Size(), len(file), fi.ModTime(), old)
			}
		})
	}
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkItems compares preview items with "UIDL: reason substring" wants.
func checkItems(t *testing.T, what string, got []PreviewItem, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("would %s %+v, want %q", what, got, want)
		return
	}
	for i, w := range want {
		uid, reason, _ := strings.Cut(w, ": ")
		if got[i].UIDL != uid || !strings.Contains(got[i].Reason, reason) || got[i].Num < 1 || got[i].Size <= 0 {
			t.Errorf("would %s #%d = %+v, want %s with reason containing %q", what, i, got[i], uid, reason)
		}
	}
}

// A dry run meets the guards a poll would: a keep-mode account the store
// knows nothing of stops at the lost-state guard, and nothing is written.
func TestPoll_DryRunStopsAtGuard(t *testing.T) {
	e := newRetEnv(t, deliveryPaths[0], numbered("m", 5), nil)
	e.account.Keep, e.account.InitialSyncLimit, e.account.DryRun = true, 3, true
	res := e.poll()
	var ge *GuardError
	if !errors.As(res.Err, &ge) || ge.Kind != "lost_state" {
		t.Fatalf("dry run %+v, want the lost-state guard", res)
	}
	if has, _ := e.store.HasAccount(e.account.Key); has {
		t.Error("the dry run wrote the account into the store")
	}
}

// A dry run never marks messages seen, whatever it is asked.
func TestPoll_DryRunRefusesMarkSeen(t *testing.T) {
	e := newRetEnv(t, deliveryPaths[0], numbered("m", 2), nil)
	e.account.DryRun, e.account.Sync = true, SyncMarkSeen
	if res := e.poll(); res.Err == nil || res.MarkedSeen != 0 || e.srv.Sessions() != 0 {
		t.Fatalf("dry run with mark-seen: %+v after %d sessions, want an error before connecting", res, e.srv.Sessions())
	}
	if has, _ := e.store.HasAccount(e.account.Key); has {
		t.Error("the dry run wrote the account into the store")
	}
}
